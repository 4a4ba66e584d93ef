/**
 * Stage 2 of Bark, as suno-ai/bark's `generate_coarse`: semantic tokens →
 * EnCodec codebooks 0 and 1 at 75 Hz. The coarse GPT emits the two codebooks
 * interleaved, in sliding windows of 60 tokens; each window restarts the KV
 * cache from a fresh context of semantic tokens and the latest coarse tokens.
 *
 * Until that context starts to slide (the first ~630 coarse tokens, about
 * 4 s of audio), a window's context is exactly the previous window's plus the
 * tokens it generated, at the same positions: then the previous window's
 * cache goes on with one step instead of a prefill of the whole context. The
 * logits are the same up to float rounding.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { InferenceError } from "../../onnx/InferenceError.ts"
import type { CausalLM } from "../models.ts"
import * as Batch from "./batch.ts"
import { type Codes, makeCodes } from "./Codes.ts"
import {
  BLOCK_SIZE,
  CODEBOOK_SIZE,
  COARSE_INFER_TOKEN,
  COARSE_SEMANTIC_PAD_TOKEN,
  CONTEXT_FIELD_LENGTH,
  N_COARSE_CODEBOOKS,
  SEMANTIC_TO_COARSE_RATIO,
  SEMANTIC_VOCAB_SIZE
} from "./constants.ts"
import { GenerationInputError, type InvalidVoicePrompt } from "./errors.ts"
import { type Progress, report } from "./Progress.ts"
import { roundHalfEven } from "./roundHalfEven.ts"
import { checkSamplingParams, makeTokenSampler, type Sampler } from "./sampling.ts"
import { validateVoicePrompt, type VoicePrompt } from "./VoicePrompt.ts"

export interface CoarseParams {
  /** Default 0.7. */
  readonly temp?: number
  /** Default null (off). */
  readonly topK?: number | null
  /** Default null (off). */
  readonly topP?: number | null
  /** Coarse tokens of context kept in each window, 60..630. Default 630. */
  readonly maxCoarseHistory?: number
  /** Tokens generated per window (per KV cache). Default 60. */
  readonly slidingWindowLen?: number
}

export interface CoarseOptions extends CoarseParams {
  readonly sampler: Sampler
  readonly history?: VoicePrompt | undefined
  readonly onProgress?: Progress | undefined
}

/** The history a voice contributes: semantic tokens and interleaved coarse ids (10 000 + code, +1024 for codebook 1). */
export interface CoarseHistory {
  readonly semantic: Int32Array
  readonly coarse: Int32Array
}

/**
 * Trims a voice to the aligned history the coarse stage starts from: at most
 * `floor(maxCoarseHistory / R)` semantic tokens (an even count that the coarse
 * prompt covers) and the `round(n · R)` coarse ids that go with them, minus the
 * last two (suno's "time alignment" hack).
 */
export const coarseHistory = (prompt: VoicePrompt, maxCoarseHistory: number): CoarseHistory => {
  const { semantic, coarse } = prompt
  const flat = new Int32Array(N_COARSE_CODEBOOKS * coarse.frames)
  for (let t = 0; t < coarse.frames; t++) {
    for (let k = 0; k < N_COARSE_CODEBOOKS; k++) {
      flat[t * N_COARSE_CODEBOOKS + k] = coarse.data[k * coarse.frames + t]! + SEMANTIC_VOCAB_SIZE + k * CODEBOOK_SIZE
    }
  }
  const nSemantic = Math.min(
    Math.floor(maxCoarseHistory / SEMANTIC_TO_COARSE_RATIO),
    semantic.length - (semantic.length % 2),
    Math.floor(flat.length / SEMANTIC_TO_COARSE_RATIO)
  )
  const nCoarse = roundHalfEven(nSemantic * SEMANTIC_TO_COARSE_RATIO)
  return {
    semantic: semantic.subarray(semantic.length - nSemantic),
    coarse: flat.subarray(flat.length - nCoarse, flat.length - 2)
  }
}

/**
 * Whether `next` is the window that continues the one with context `input`
 * that generated `generated`: the same ids, then the generated ones. The
 * previous cache holds all of them but the last generated token.
 */
const continuesWindow = (next: Int32Array, input: Int32Array, generated: Int32Array): boolean => {
  if (next.length !== input.length + generated.length) return false
  for (let i = 0; i < input.length; i++) if (next[i] !== input[i]) return false
  for (let i = 0; i < generated.length; i++) if (next[input.length + i] !== generated[i]) return false
  return true
}

/** Coarse tokens (both codebooks) to generate for `semanticLength` semantic tokens; always even. */
export const coarseSteps = (semanticLength: number): number =>
  Math.floor((semanticLength * SEMANTIC_TO_COARSE_RATIO) / N_COARSE_CODEBOOKS) * N_COARSE_CODEBOOKS

const inputError = (message: string, remediation: string) =>
  new GenerationInputError({ stage: "coarse", message, remediation })

const checkInput = (semantic: Int32Array, maxCoarseHistory: number, slidingWindowLen: number) => {
  if (semantic.length === 0) {
    return Effect.fail(inputError("no semantic tokens to turn into audio", "Give the coarse stage at least one semantic token."))
  }
  const bad = semantic.findIndex((v) => v < 0 || v >= SEMANTIC_VOCAB_SIZE)
  if (bad >= 0) {
    return Effect.fail(
      inputError(`semantic token ${semantic[bad]} at ${bad} is outside 0..${SEMANTIC_VOCAB_SIZE - 1}`, "Pass the semantic stage's output.")
    )
  }
  if (!Number.isInteger(maxCoarseHistory) || maxCoarseHistory < 60 || maxCoarseHistory > 630) {
    return Effect.fail(inputError(`max_coarse_history ${maxCoarseHistory} is outside 60..630`, "Use a value in 60..630 (default 630)."))
  }
  if (
    !Number.isInteger(slidingWindowLen) || slidingWindowLen < 1 ||
    maxCoarseHistory + slidingWindowLen > BLOCK_SIZE - CONTEXT_FIELD_LENGTH
  ) {
    return Effect.fail(
      inputError(
        `sliding_window_len ${slidingWindowLen} must be a positive integer with max_coarse_history + sliding_window_len ≤ 768`,
        "Use the default 60, or lower max_coarse_history."
      )
    )
  }
  return Effect.void
}

/**
 * The decoding of one coarse sequence (see ./batch.ts), after checking its
 * inputs: window after window, each a prefill of its context (or, while the
 * context does not slide yet, a step that continues the previous window)
 * and then one token per step.
 */
export const coarseDecoding = Effect.fn("bark.coarseDecoding")(function*(
  semantic: Int32Array,
  options: CoarseOptions
): Effect.fn.Return<Batch.Decoding<Codes>, GenerationInputError | InvalidVoicePrompt> {
  const temp = options.temp ?? 0.7
  const topK = options.topK ?? null
  const topP = options.topP ?? null
  const maxCoarseHistory = options.maxCoarseHistory ?? 630
  const windowLen = options.slidingWindowLen ?? 60
  yield* checkSamplingParams("coarse", { temp, topK, topP })
  yield* checkInput(semantic, maxCoarseHistory, windowLen)
  if (options.history !== undefined) yield* validateVoicePrompt("history", options.history)

  const maxSemanticHistory = Math.floor(maxCoarseHistory / SEMANTIC_TO_COARSE_RATIO)
  const history = options.history === undefined
    ? { semantic: new Int32Array(0), coarse: new Int32Array(0) }
    : coarseHistory(options.history, maxCoarseHistory)
  const steps = coarseSteps(semantic.length)

  const allSemantic = new Int32Array(history.semantic.length + semantic.length)
  allSemantic.set(history.semantic)
  allSemantic.set(semantic, history.semantic.length)
  // every coarse id so far: the history, then the generated ones
  const coarse = new Int32Array(history.coarse.length + steps)
  coarse.set(history.coarse)
  let coarseLength = history.coarse.length

  const pick = makeTokenSampler({ temp, topK, topP }, options.sampler)
  const candidates = new Float32Array(CODEBOOK_SIZE)
  let step = 0
  // The window running (its context, where its tokens start in `coarse`, where it ends), and the one before it.
  let current: { readonly input: Int32Array; readonly firstToken: number; readonly end: number } | undefined
  let previous: { readonly input: Int32Array; readonly firstToken: number } | undefined

  const result = (): Codes => {
    const frames = steps / N_COARSE_CODEBOOKS
    const codes = makeCodes(N_COARSE_CODEBOOKS, frames)
    const generated = coarse.subarray(history.coarse.length)
    for (let t = 0; t < frames; t++) {
      for (let k = 0; k < N_COARSE_CODEBOOKS; k++) {
        codes.data[k * frames + t] = generated[t * N_COARSE_CODEBOOKS + k]! - SEMANTIC_VOCAB_SIZE - k * CODEBOOK_SIZE
      }
    }
    return codes
  }

  /** The next window: a prefill of its context, or a step when it continues the previous one. */
  const openWindow = (): Batch.Need<Codes> => {
    const semanticIndex = history.semantic.length + roundHalfEven(step / SEMANTIC_TO_COARSE_RATIO)
    const from = Math.max(0, semanticIndex - maxSemanticHistory)
    const window = allSemantic.subarray(from, from + CONTEXT_FIELD_LENGTH)
    const context = coarse.subarray(Math.max(0, coarseLength - maxCoarseHistory), coarseLength)
    const input = new Int32Array(CONTEXT_FIELD_LENGTH + 1 + context.length).fill(COARSE_SEMANTIC_PAD_TOKEN)
    input.set(window)
    input[CONTEXT_FIELD_LENGTH] = COARSE_INFER_TOKEN
    input.set(context, CONTEXT_FIELD_LENGTH + 1)
    const continues = previous !== undefined && continuesWindow(input, previous.input, coarse.subarray(previous.firstToken, coarseLength))
    current = { input, firstToken: coarseLength, end: Math.min(step + windowLen, steps) }
    return continues ? Batch.step(input[input.length - 1]!) : Batch.prefill(input)
  }

  return {
    next: () => {
      if (step >= steps) return Batch.done(result())
      if (current === undefined) return openWindow()
      return Batch.step(coarse[coarseLength - 1]!)
    },
    accept: (logits, batch) =>
      Effect.suspend(() => {
        // even steps pick a codebook-0 id, odd steps a codebook-1 id
        const offset = SEMANTIC_VOCAB_SIZE + (step % 2) * CODEBOOK_SIZE
        candidates.set(logits.subarray(offset, offset + CODEBOOK_SIZE))
        coarse[coarseLength++] = pick(candidates) + offset
        step++
        if (step === current!.end) {
          previous = current
          current = undefined
        }
        return report(options.onProgress, step, steps, batch)
      })
  }
})

/** Generates codebooks 0..1 (`2 × T`, codes 0..1023) for semantic tokens. */
export const generateCoarse = (
  model: CausalLM,
  semantic: Int32Array,
  options: CoarseOptions
): Effect.Effect<Codes, InferenceError | GenerationInputError | InvalidVoicePrompt> =>
  Effect.flatMap(coarseDecoding(semantic, options), (decoding) => Batch.drive(model, decoding)).pipe(
    Effect.withSpan("bark.generateCoarse")
  )
