/**
 * Stage 3 of Bark, as suno-ai/bark's `generate_fine`: codebooks 0..1 →
 * all 8 codebooks. The non-causal fine model fills codebooks 2..7 one at a
 * time over 1024-frame windows that advance by 512; each codebook's
 * predictions are written into the window before the next one is predicted.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { InferenceError } from "../../onnx/InferenceError.ts"
import type { FineLM } from "../models.ts"
import { type Codes, makeCodes } from "./Codes.ts"
import { CODEBOOK_SIZE, FINE_HOP, FINE_PAD, FINE_WINDOW, N_FINE_CODEBOOKS } from "./constants.ts"
import { GenerationInputError, type InvalidVoicePrompt } from "./errors.ts"
import { type Progress, report } from "./Progress.ts"
import { argmaxOf, type Sampler, softmaxInPlace } from "./sampling.ts"
import { validateVoicePrompt, type VoicePrompt } from "./VoicePrompt.ts"

export interface FineParams {
  /** Softmax temperature; null = argmax of the logits. Default 0.5. */
  readonly temp?: number | null
}

export interface FineOptions extends FineParams {
  /** Draws from the tempered distribution; unused when `temp` is null. */
  readonly sampler: Sampler
  readonly history?: VoicePrompt | undefined
  readonly onProgress?: Progress | undefined
}

/** One window of the fine loop, in frames of the padded buffer. */
export interface FineWindow {
  /** First frame of the 1024-frame window. */
  readonly start: number
  /** First frame whose codebooks 2..7 this window writes. */
  readonly fill: number
  /** `fill - start`: where, inside the window, predictions begin. */
  readonly rel: number
}

/**
 * The windows for `frames` new frames after `historyFrames` (≤ 512) of
 * history: the buffer is padded to at least 1024 frames, the first window
 * fills from the end of the history, each later one fills the next 512 frames,
 * and the last window is pulled back to end at the buffer's end.
 */
export const fineWindows = (frames: number, historyFrames: number): ReadonlyArray<FineWindow> => {
  const length = Math.max(historyFrames + frames, FINE_WINDOW)
  const loops = Math.max(0, Math.ceil((frames - (FINE_WINDOW - historyFrames)) / FINE_HOP)) + 1
  return Array.from({ length: loops }, (_, n) => {
    const start = Math.min(n * FINE_HOP, length - FINE_WINDOW)
    const fill = Math.min(historyFrames + n * FINE_HOP, length - FINE_HOP)
    return { start, fill, rel: fill - start }
  })
}

const checkCoarse = (coarse: Codes, temp: number | null) => {
  const fail = (message: string, remediation: string) =>
    Effect.fail(new GenerationInputError({ stage: "fine", message, remediation }))
  if (coarse.rows < 1 || coarse.rows >= N_FINE_CODEBOOKS || coarse.frames < 1) {
    return fail(`coarse codes of ${coarse.rows}×${coarse.frames}: need 1..7 codebooks and at least one frame`, "Pass the coarse stage's output.")
  }
  const bad = coarse.data.findIndex((v) => v < 0 || v >= CODEBOOK_SIZE)
  if (bad >= 0) return fail(`coarse code ${coarse.data[bad]} is outside 0..${CODEBOOK_SIZE - 1}`, "Pass the coarse stage's output.")
  if (temp !== null && !(temp > 0 && Number.isFinite(temp))) {
    return fail(`fine temperature must be a positive number or null, got ${temp}`, "Use 0.5 (default) or null for argmax.")
  }
  return Effect.void
}

/** Completes coarse codes (`k × T`, usually k = 2) to all 8 codebooks (`8 × T`). */
export const generateFine = Effect.fn("bark.generateFine")(function*(
  model: FineLM,
  coarse: Codes,
  options: FineOptions
): Effect.fn.Return<Codes, InferenceError | GenerationInputError | InvalidVoicePrompt> {
  const temp = options.temp === undefined ? 0.5 : options.temp
  yield* checkCoarse(coarse, temp)
  if (options.history !== undefined) yield* validateVoicePrompt("history", options.history)

  const history = options.history?.fine
  const historyFrames = history === undefined ? 0 : Math.min(history.frames, FINE_HOP)
  const frames = coarse.frames
  const length = Math.max(historyFrames + frames, FINE_WINDOW)
  // frame-major [length, 8], as the model reads it: history ‖ coarse + pads ‖ right pad
  const buffer = new Int32Array(length * N_FINE_CODEBOOKS).fill(FINE_PAD)
  if (history !== undefined) {
    const skip = history.frames - historyFrames
    for (let t = 0; t < historyFrames; t++) {
      for (let k = 0; k < N_FINE_CODEBOOKS; k++) {
        buffer[t * N_FINE_CODEBOOKS + k] = history.data[k * history.frames + skip + t]!
      }
    }
  }
  for (let t = 0; t < frames; t++) {
    for (let k = 0; k < coarse.rows; k++) {
      buffer[(historyFrames + t) * N_FINE_CODEBOOKS + k] = coarse.data[k * frames + t]!
    }
  }

  const windows = fineWindows(frames, historyFrames)
  const passes = N_FINE_CODEBOOKS - coarse.rows
  const vocab = model.outputVocabSize
  const probs = new Float32Array(CODEBOOK_SIZE)
  for (const [n, { start, rel }] of windows.entries()) {
    const window = buffer.slice(start * N_FINE_CODEBOOKS, (start + FINE_WINDOW) * N_FINE_CODEBOOKS)
    for (let k = coarse.rows; k < N_FINE_CODEBOOKS; k++) {
      const logits = yield* model.run(window, k)
      for (let r = rel; r < FINE_WINDOW; r++) {
        const row = r * vocab
        let code: number
        if (temp === null) {
          code = argmaxOf(logits, row, row + CODEBOOK_SIZE)
        } else {
          probs.set(logits.subarray(row, row + CODEBOOK_SIZE))
          softmaxInPlace(probs, temp)
          code = options.sampler(probs)
        }
        window[r * N_FINE_CODEBOOKS + k] = code // the next codebook sees it
      }
      yield* report(options.onProgress, n * passes + (k - coarse.rows) + 1, windows.length * passes)
      yield* Effect.yieldNow
    }
    buffer.set(window.subarray(rel * N_FINE_CODEBOOKS), (start + rel) * N_FINE_CODEBOOKS)
  }

  const codes = makeCodes(N_FINE_CODEBOOKS, frames)
  for (let k = 0; k < N_FINE_CODEBOOKS; k++) {
    for (let t = 0; t < frames; t++) codes.data[k * frames + t] = buffer[(historyFrames + t) * N_FINE_CODEBOOKS + k]!
  }
  return codes
})
