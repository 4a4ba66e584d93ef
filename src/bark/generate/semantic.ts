/**
 * Stage 1 of Bark, as suno-ai/bark's `generate_text_semantic`: text ids (and a
 * voice's semantic history) → semantic tokens at 49.9 Hz, sampled one at a
 * time from the semantic GPT until EOS or a length limit.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { CausalLM } from "../models.ts"
import type { InferenceError } from "../../onnx/InferenceError.ts"
import {
  CONTEXT_FIELD_LENGTH,
  MAX_SEMANTIC_TOKENS,
  MAX_TEXT_ID,
  SEMANTIC_INFER_TOKEN,
  SEMANTIC_PAD_TOKEN,
  SEMANTIC_RATE_HZ,
  SEMANTIC_VOCAB_SIZE,
  TEXT_ENCODING_OFFSET,
  TEXT_PAD_TOKEN
} from "./constants.ts"
import { GenerationInputError, type InvalidVoicePrompt } from "./errors.ts"
import { type Progress, report } from "./Progress.ts"
import { checkSamplingParams, makeTokenSampler, type Sampler } from "./sampling.ts"
import { validateVoicePrompt, type VoicePrompt } from "./VoicePrompt.ts"
import * as Batch from "./batch.ts"

export interface SemanticParams {
  /** Default 0.7. */
  readonly temp?: number
  /** Default null (off). */
  readonly topK?: number | null
  /** Default null (off). */
  readonly topP?: number | null
  /** Stop once the EOS probability (after temperature) is ≥ this. Default 0.2; null = only a sampled EOS stops. */
  readonly minEosP?: number | null
  /** Stop once the generated duration (1/49.9 s per token) exceeds this. Default null. */
  readonly maxGenDurationS?: number | null
  /** With false, EOS is not a candidate and only the length limits stop. Default true. */
  readonly allowEarlyStop?: boolean
}

export interface SemanticOptions extends SemanticParams {
  readonly sampler: Sampler
  readonly history?: VoicePrompt | undefined
  readonly onProgress?: Progress | undefined
}

/** Why the semantic loop ended. */
export type SemanticStop = "eos" | "min-eos-p" | "max-duration" | "max-tokens"

export interface SemanticResult {
  /** Semantic tokens, 0..9999 (EOS is not included). */
  readonly tokens: Int32Array
  readonly stop: SemanticStop
  /** Text ids beyond the 256-slot text field, which the model never saw. */
  readonly droppedTextIds: number
}

/** The prefill input: 256 text slots ‖ 256 history slots ‖ infer token (the two fields are summed by the model). */
export const semanticInput = (textIds: ArrayLike<number>, history: Int32Array | undefined): Int32Array => {
  const ids = new Int32Array(2 * CONTEXT_FIELD_LENGTH + 1)
  const text = ids.subarray(0, CONTEXT_FIELD_LENGTH).fill(TEXT_PAD_TOKEN)
  for (let i = 0; i < Math.min(textIds.length, CONTEXT_FIELD_LENGTH); i++) text[i] = textIds[i]! + TEXT_ENCODING_OFFSET
  // the history is the LAST 256 tokens, left-aligned
  const hist = ids.subarray(CONTEXT_FIELD_LENGTH, 2 * CONTEXT_FIELD_LENGTH).fill(SEMANTIC_PAD_TOKEN)
  if (history !== undefined) hist.set(history.subarray(Math.max(0, history.length - CONTEXT_FIELD_LENGTH)))
  ids[2 * CONTEXT_FIELD_LENGTH] = SEMANTIC_INFER_TOKEN
  return ids
}

const checkTextIds = (textIds: ArrayLike<number>): Effect.Effect<void, GenerationInputError> => {
  for (let i = 0; i < textIds.length; i++) {
    const id = textIds[i]!
    if (!Number.isInteger(id) || id < 0 || id > MAX_TEXT_ID) {
      return Effect.fail(
        new GenerationInputError({
          stage: "semantic",
          message: `text id ${id} at position ${i} is outside the tokenizer range 0..${MAX_TEXT_ID}`,
          remediation: "Tokenize the text with the vocabulary of the loaded Bark model."
        })
      )
    }
  }
  return Effect.void
}

/**
 * The decoding of one semantic sequence (see ./batch.ts), after checking its
 * inputs: a prefill of the text and history fields, then one token per step
 * until EOS or a length limit.
 */
export const semanticDecoding = Effect.fn("bark.semanticDecoding")(function*(
  textIds: ArrayLike<number>,
  options: SemanticOptions
): Effect.fn.Return<Batch.Decoding<SemanticResult>, GenerationInputError | InvalidVoicePrompt> {
  const temp = options.temp ?? 0.7
  const topK = options.topK ?? null
  const topP = options.topP ?? null
  const minEosP = options.minEosP === undefined ? 0.2 : options.minEosP
  const maxGenDurationS = options.maxGenDurationS ?? null
  const allowEarlyStop = options.allowEarlyStop ?? true
  yield* checkSamplingParams("semantic", { temp, topK, topP })
  yield* checkTextIds(textIds)
  if (options.history !== undefined) yield* validateVoicePrompt("history", options.history)

  const droppedTextIds = Math.max(0, textIds.length - CONTEXT_FIELD_LENGTH)
  if (droppedTextIds > 0) {
    yield* Effect.logWarning(`text is ${textIds.length} tokens; the last ${droppedTextIds} are dropped (Bark reads 256)`)
  }
  const pick = makeTokenSampler({ temp, topK, topP }, options.sampler)
  // candidates: the 10 000 semantic tokens, plus EOS (logit 10 000) as the last one
  const candidates = new Float32Array(allowEarlyStop ? SEMANTIC_VOCAB_SIZE + 1 : SEMANTIC_VOCAB_SIZE)
  const eosThreshold = minEosP === null ? null : Math.fround(minEosP) // compared in float32, as torch does
  const tokens = new Int32Array(MAX_SEMANTIC_TOKENS)
  let count = 0
  let duration = 0
  let stop: SemanticStop | undefined
  let started = false

  const finish = (reason: SemanticStop) => {
    stop = reason
  }
  return {
    next: () => {
      if (!started) return Batch.prefill(semanticInput(textIds, options.history?.semantic), true)
      if (stop !== undefined) return Batch.done({ tokens: tokens.slice(0, count), stop, droppedTextIds })
      return Batch.step(tokens[count - 1]!)
    },
    accept: (logits, batch) =>
      Effect.suspend(() => {
        started = true
        candidates.set(logits.subarray(0, candidates.length))
        const next = pick(candidates)
        if (allowEarlyStop) {
          if (next === SEMANTIC_PAD_TOKEN) return Effect.sync(() => finish("eos"))
          if (eosThreshold !== null && candidates[SEMANTIC_PAD_TOKEN]! >= eosThreshold) return Effect.sync(() => finish("min-eos-p"))
        }
        tokens[count++] = next
        duration += 1 / SEMANTIC_RATE_HZ
        if (maxGenDurationS !== null && duration > maxGenDurationS) finish("max-duration")
        else if (count === MAX_SEMANTIC_TOKENS) finish("max-tokens")
        return report(options.onProgress, count, MAX_SEMANTIC_TOKENS, batch)
      })
  }
})

/** Generates semantic tokens for BERT text ids (without the 10 048 offset). */
export const generateSemantic = (
  model: CausalLM,
  textIds: ArrayLike<number>,
  options: SemanticOptions
): Effect.Effect<SemanticResult, InferenceError | GenerationInputError | InvalidVoicePrompt> =>
  Effect.flatMap(semanticDecoding(textIds, options), (decoding) => Batch.drive(model, decoding)).pipe(
    Effect.withSpan("bark.generateSemantic")
  )
