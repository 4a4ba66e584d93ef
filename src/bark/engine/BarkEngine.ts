/**
 * The synthesis engine: text in, 24 kHz audio out, whole or as a stream of
 * chunks (one per long-form chunk of text). The `ready` stage of the startup
 * recipe builds it from the compiled models; the mock profile provides a
 * deterministic stand-in with no models.
 *
 * @since 0.1.0
 */
import type { TraceEvent } from "../../pipeline/TraceEvent.ts"
import type { Dtype } from "../dtype.ts"
import type { Stream } from "effect"
import { Context, Effect, Schema } from "effect"

/** The generation stages' temperatures; as a Schema, for request bodies and job payloads. */
export const Temperatures = Schema.Struct({
  semantic: Schema.optionalKey(Schema.Number),
  /** Bark calls it `waveform_temp`: the coarse stage's temperature. */
  coarse: Schema.optionalKey(Schema.Number),
  /** `null` means argmax. */
  fine: Schema.optionalKey(Schema.NullOr(Schema.Number))
})
export type Temperatures = typeof Temperatures.Type

export interface SynthesisOptions {
  /** A voice name (`v2/en_speaker_6`, `announcer`, …) or a path to a suno `.npz` prompt. */
  readonly voice?: string
  /** Seeds the multinomial sampler: the same seed gives the same audio on the same build. */
  readonly seed?: number
  /** "argmax" for greedy decoding (the parity setting). Default "multinomial". */
  readonly sampler?: "multinomial" | "argmax"
  readonly temperatures?: Temperatures
  /** Use each chunk's generated tokens as the next chunk's history prompt (keeps the voice consistent). */
  readonly carryHistory?: boolean
  /** Progress of the token loops: stage and tokens done / total. */
  readonly onProgress?: (progress: SynthesisProgress) => Effect.Effect<void>
  /** The synthesis recipe's trace: its stages' events, per request and per chunk (src/pipeline/TraceEvent.ts). */
  readonly onTrace?: (event: TraceEvent) => Effect.Effect<void>
  /** The synthesis recipe by name (`synthesis`, `draft`, or one the engine was given); default the engine's. */
  readonly synthesis?: string
}

export interface SynthesisProgress {
  readonly chunk: number
  readonly chunks: number
  readonly stage: "semantic" | "coarse" | "fine" | "codec"
  readonly done: number
  readonly total: number
  /** Semantic and coarse tokens: how many sequences the step that made it decoded (1 unless the engine batches). */
  readonly batch?: number
}

export interface AudioChunk {
  readonly index: number
  readonly text: string
  readonly audio: Float32Array
  readonly sampleRate: number
  /** The chunk came from a sentence too long for one window and was split at word boundaries. */
  readonly splitSentence: boolean
  /** The multinomial sampler's seed (the one given, or the one picked when none was); absent with argmax. */
  readonly seed?: number
}

export interface Synthesis {
  readonly audio: Float32Array
  readonly sampleRate: number
  readonly chunks: ReadonlyArray<Omit<AudioChunk, "audio"> & { readonly samples: number }>
  /** The multinomial sampler's seed (the one given, or the one picked when none was); absent with argmax. */
  readonly seed?: number
}

export class SynthesisError extends Schema.TaggedError<SynthesisError>()("SynthesisError", {
  /** e.g. "invalid-input", "unknown-voice", "inference". */
  reason: Schema.String,
  message: Schema.String,
  remediation: Schema.String
}) {}

/** One text of `synthesizeMany`, with options of its own over the shared ones. */
export type ManyRequest = string | { readonly text: string; readonly options?: SynthesisOptions }

/**
 * Synthesizes several texts at once, in order. An engine with BARK_MAX_BATCH
 * above 1 decodes them together, a batch step for all of them at a time;
 * each one's audio is what it gets alone with the same options and seed.
 */
export const synthesizeMany = (
  engine: BarkEngine["Service"],
  requests: ReadonlyArray<ManyRequest>,
  options: SynthesisOptions = {}
): Effect.Effect<ReadonlyArray<Synthesis>, SynthesisError> =>
  Effect.forEach(
    requests,
    (request) =>
      typeof request === "string"
        ? engine.synthesize(request, options)
        : engine.synthesize(request.text, { ...options, ...request.options }),
    { concurrency: "unbounded" }
  )

export class BarkEngine extends Context.Service<BarkEngine, {
  /** "bark" for real models, "mock" for the deterministic stand-in. */
  readonly kind: "bark" | "mock"
  /** The weight type the models run in (BARK_DTYPE); undefined for engines without weights (mock). */
  readonly dtype?: Dtype | undefined
  /** The model served: a repo id or a local directory (BARK_MODEL); undefined when not known. */
  readonly model?: string | undefined
  readonly sampleRate: number
  /** Voice names this engine knows. */
  readonly voices: ReadonlyArray<string>
  readonly synthesize: (text: string, options?: SynthesisOptions) => Effect.Effect<Synthesis, SynthesisError>
  /** Chunks as each is ready; interrupting the stream stops generation. */
  readonly stream: (text: string, options?: SynthesisOptions) => Stream.Stream<AudioChunk, SynthesisError>
}>()("bark-pipeline/BarkEngine") {}
