/**
 * Text to waveform with Bark: semantic → coarse → fine → EnCodec decode, as
 * suno-ai/bark's `generate_audio` chains them, with one voice for all stages
 * and one sampler drawing for all of them in order. The engine runs the same
 * chain as the stages of a synthesis recipe (../synthesis); this is the chain
 * in one call, the reference its stages are tested against.
 *
 * @since 0.1.0
 */
import { Effect, Random } from "effect"
import type { InferenceError } from "../../onnx/InferenceError.ts"
import type { BarkModels } from "../models.ts"
import { normalizeText, type Tokenizer } from "../tokenizer.ts"
import type { Codes } from "./Codes.ts"
import * as Batch from "./batch.ts"
import { type CoarseParams, coarseDecoding, generateCoarse } from "./coarse.ts"
import { GenerationInputError, type InvalidVoicePrompt } from "./errors.ts"
import { type FineParams, generateFine } from "./fine.ts"
import { multinomial, type Sampler } from "./sampling.ts"
import { generateSemantic, type SemanticParams, type SemanticResult, semanticDecoding } from "./semantic.ts"
import type { VoicePrompt } from "./VoicePrompt.ts"

/** What to speak: BERT ids (without the 10 048 offset), or text and the tokenizer to encode it. */
export type GenerateInput =
  | { readonly textIds: ArrayLike<number> }
  | { readonly text: string; readonly tokenizer: Tokenizer }

export type GenerationStage = "semantic" | "coarse" | "fine" | "codec"

export interface GenerateOptions {
  readonly voice?: VoicePrompt | undefined
  readonly semantic?: SemanticParams
  readonly coarse?: CoarseParams
  readonly fine?: FineParams
  /** Draws every sampled token; default a multinomial sampler seeded with `seed`. */
  readonly sampler?: Sampler
  /** Seed of the default sampler; default drawn from Effect's `Random`. */
  readonly seed?: number
  /** `batch`: the sequences decoded in the step that made the token (semantic and coarse). */
  readonly onProgress?: (stage: GenerationStage, done: number, total: number, batch?: number) => Effect.Effect<void>
  /**
   * Decode the semantic and coarse stages in these running batches (./batch.ts)
   * instead of alone: the tokens are the same, the weights are read once per
   * step for every sequence in the batch.
   */
  readonly schedulers?: { readonly semantic: Batch.Scheduler; readonly coarse: Batch.Scheduler } | undefined
}

export interface GeneratedAudio {
  /** The BERT ids the semantic stage read (before truncation to 256). */
  readonly textIds: Int32Array
  readonly semantic: SemanticResult
  /** Codebooks 0..1, `2 × T`. */
  readonly coarse: Codes
  /** Codebooks 0..7, `8 × T`. */
  readonly fine: Codes
  /** Mono float32 samples, `T × hopLength`, unclipped. */
  readonly audio: Float32Array
  readonly sampleRate: number
}

const textIdsOf = (input: GenerateInput): Effect.Effect<Int32Array, GenerationInputError> => {
  if ("textIds" in input) return Effect.succeed(Int32Array.from(input.textIds))
  const text = normalizeText(input.text)
  return text === ""
    ? Effect.fail(
      new GenerationInputError({ stage: "semantic", message: "the text is empty", remediation: "Give some text to speak." })
    )
    : Effect.succeed(input.tokenizer.encode(text))
}

/** Runs the whole Bark chain on `models`. */
export const generateAudio = Effect.fn("bark.generateAudio")(function*(
  models: BarkModels,
  input: GenerateInput,
  options: GenerateOptions = {}
): Effect.fn.Return<GeneratedAudio, InferenceError | GenerationInputError | InvalidVoicePrompt> {
  const textIds = yield* textIdsOf(input)
  const sampler = options.sampler ?? multinomial(options.seed ?? (yield* Random.nextIntBetween(0, 2 ** 32)))
  const onProgress = options.onProgress
  const progress = (stage: GenerationStage) =>
    onProgress === undefined ? undefined : (done: number, total: number, batch?: number) => onProgress(stage, done, total, batch)
  const shared = { sampler, history: options.voice }
  const schedulers = options.schedulers

  const semanticOptions = { ...options.semantic, ...shared, onProgress: progress("semantic") }
  const semantic = schedulers === undefined
    ? yield* generateSemantic(models.semantic, textIds, semanticOptions)
    : yield* Effect.flatMap(semanticDecoding(textIds, semanticOptions), schedulers.semantic.submit)
  if (semantic.tokens.length === 0) {
    return yield* new GenerationInputError({
      stage: "coarse",
      message: "the semantic stage stopped before its first token (EOS right away)",
      remediation: "Lower min_eos_p (or disable early stop), or try other text or another voice."
    })
  }
  const coarseOptions = { ...options.coarse, ...shared, onProgress: progress("coarse") }
  const coarse = schedulers === undefined
    ? yield* generateCoarse(models.coarse, semantic.tokens, coarseOptions)
    : yield* Effect.flatMap(coarseDecoding(semantic.tokens, coarseOptions), schedulers.coarse.submit)
  const fine = yield* generateFine(models.fine, coarse, { ...options.fine, ...shared, onProgress: progress("fine") })
  const audio = yield* models.codec.decode(fine.data, fine.frames)
  const codecProgress = progress("codec")
  if (codecProgress !== undefined) yield* codecProgress(1, 1)
  return { textIds, semantic, coarse, fine, audio, sampleRate: models.codec.sampleRate }
})
