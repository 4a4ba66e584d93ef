/**
 * In-memory stand-ins for the Bark models: deterministic logits computed from
 * the sequence seen so far, with every call recorded so tests can check what
 * the generation stages feed the models.
 */
import { Effect } from "effect"
import type { CausalLM, CodecDecoder, DecoderState, FineLM } from "../../src/bark/models.ts"

export interface CausalCall {
  readonly kind: "prefill" | "step"
  /** The ids of this call (the whole input for prefill, the one new id for step). */
  readonly ids: Int32Array
  readonly mergeContext: boolean
  /** Positions in the cache after the call. */
  readonly length: number
}

interface FakeState extends DecoderState {
  readonly sequence: ReadonlyArray<number>
}

/**
 * A causal LM whose logits are `logitsOf(sequence, logits)` for the raw id
 * sequence so far (`logits` starts at zero). Positions follow the merge rule.
 */
export const fakeCausalLM = (
  outputVocabSize: number,
  logitsOf: (sequence: ReadonlyArray<number>, logits: Float32Array) => void
) => {
  const calls: Array<CausalCall> = []
  const run = (sequence: ReadonlyArray<number>, length: number) => {
    const logits = new Float32Array(outputVocabSize)
    logitsOf(sequence, logits)
    const state: FakeState = { length, sequence }
    return { logits, state }
  }
  const model: CausalLM = {
    outputVocabSize,
    prefill: (ids, options) =>
      Effect.sync(() => {
        const mergeContext = options?.mergeContext ?? false
        const length = mergeContext ? ids.length - 256 : ids.length
        calls.push({ kind: "prefill", ids: ids.slice(), mergeContext, length })
        return run(Array.from(ids), length)
      }),
    step: (state, id) =>
      Effect.sync(() => {
        const length = state.length + 1
        calls.push({ kind: "step", ids: Int32Array.of(id), mergeContext: false, length })
        return run([...(state as FakeState).sequence, id], length)
      })
  }
  return { model, calls }
}

export interface FineCall {
  readonly codes: Int32Array
  readonly predIdx: number
}

/** A fine model whose logits row `r` is `rowLogits(window, r, predIdx, row)` over 1056 entries. */
export const fakeFineLM = (rowLogits: (codes: Int32Array, r: number, predIdx: number, row: Float32Array) => void) => {
  const calls: Array<FineCall> = []
  const vocab = 1056
  const model: FineLM = {
    windowSize: 1024,
    nCodes: 8,
    outputVocabSize: vocab,
    run: (codes, predIdx) =>
      Effect.sync(() => {
        calls.push({ codes: codes.slice(), predIdx })
        const logits = new Float32Array(1024 * vocab)
        for (let r = 0; r < 1024; r++) rowLogits(codes, r, predIdx, logits.subarray(r * vocab, (r + 1) * vocab))
        return logits
      })
  }
  return { model, calls }
}

/** A codec that turns each frame into `hopLength` copies of its codebook-0 code / 1024. */
export const fakeCodec = (hopLength = 4): CodecDecoder => ({
  sampleRate: 24_000,
  hopLength,
  decode: (codes, frames) =>
    Effect.sync(() => {
      const out = new Float32Array(frames * hopLength)
      for (let t = 0; t < frames; t++) out.fill(codes[t]! / 1024, t * hopLength, (t + 1) * hopLength)
      return out
    })
})
