/**
 * The values the stages of a synthesis recipe provide, in recipe order. A
 * synthesis runs its `prepare` stages once per request (the text, its chunks,
 * the voice, the audio cache) and its `chunk` stages once per long-form chunk
 * (ids, tokens, codes, audio); the runner (./run.ts) provides the request and
 * the current chunk. Keeping the keys together lets recipes and tests name
 * them without importing stage implementations, as ../services.ts does for
 * startup.
 *
 * @since 0.5.0
 */
import { Context } from "effect"
import type { Effect } from "effect"
import type { SynthesisOptions } from "../engine/BarkEngine.ts"
import type { SamplingSettings } from "../engine/samplingSettings.ts"
import type { Codes } from "../generate/Codes.ts"
import type { SamplerState } from "../generate/sampling.ts"
import type { SemanticStop } from "../generate/semantic.ts"
import type { VoicePrompt } from "../generate/VoicePrompt.ts"
import type { SplitOptions, TextChunk } from "../text.ts"
import type { AudioCache, CachedAudio } from "./AudioCacheStore.ts"

// ---------------------------------------------------------------- per request

/** Given by the runner: the caller's text and options, and the sampling they resolve to. */
export class SynthesisRequest extends Context.Service<SynthesisRequest, {
  /** The recipe's name. */
  readonly recipe: string
  readonly text: string
  readonly options: SynthesisOptions
  readonly sampling: SamplingSettings
  /** The pause before every chunk after the first, in seconds. */
  readonly silenceSeconds: number
  /** How the text is cut into chunks (the engine's words and tokens per chunk). */
  readonly split: Omit<SplitOptions, "countTokens">
}>()("bark-pipeline/SynthesisRequest") {}

/** normalize-text: the text as it will be spoken. */
export class SpokenText extends Context.Service<SpokenText, {
  readonly text: string
}>()("bark-pipeline/SpokenText") {}

/** split: the text in chunks that each fit one generation (~14 s). */
export class TextChunks extends Context.Service<TextChunks, {
  readonly chunks: ReadonlyArray<TextChunk>
}>()("bark-pipeline/TextChunks") {}

/** voice: the prompt every chunk starts from; undefined without a voice (Bark's unconditioned speaker). */
export class Voice extends Context.Service<Voice, {
  readonly name: string | undefined
  readonly prompt: VoicePrompt | undefined
}>()("bark-pipeline/Voice") {}

/**
 * audio-cache: a finished synthesis of this very request, when one is
 * stored (the runner then streams it instead of generating), and where to
 * store this one's when it is not.
 */
export class AudioCacheLookup extends Context.Service<AudioCacheLookup, {
  readonly hit: CachedAudio | undefined
  /** Stores the synthesis once every chunk is generated; absent when the request is not cacheable. */
  readonly store: ((synthesis: CachedAudio) => Effect.Effect<void>) | undefined
}>()("bark-pipeline/AudioCacheLookup") {}

// ------------------------------------------------------------------ per chunk

/** Given by the runner to each chunk's stages. */
export class CurrentChunk extends Context.Service<CurrentChunk, {
  readonly index: number
  readonly count: number
  readonly chunk: TextChunk
  /** The history prompt: the voice's, or the previous chunk's tokens with history carry-over. */
  readonly history: VoicePrompt | undefined
  /** Where this chunk's random stream starts. */
  readonly sampler: SamplerState
}>()("bark-pipeline/CurrentChunk") {}

/** tokenize: the chunk's BERT ids (without the 10 048 offset). */
export class TextIds extends Context.Service<TextIds, {
  readonly ids: Int32Array
}>()("bark-pipeline/TextIds") {}

/** semantic: the chunk's semantic tokens, why they stopped, and the sampler after them. */
export class SemanticTokens extends Context.Service<SemanticTokens, {
  readonly tokens: Int32Array
  readonly stop: SemanticStop
  readonly sampler: SamplerState
}>()("bark-pipeline/SemanticTokens") {}

/** coarse: codebooks 0..1. */
export class CoarseCodes extends Context.Service<CoarseCodes, {
  readonly codes: Codes
  readonly sampler: SamplerState
}>()("bark-pipeline/CoarseCodes") {}

/** fine: the codebooks the codec decodes — 0..7 from the fine model, or 0..1 alone in the draft lane. */
export class FineCodes extends Context.Service<FineCodes, {
  readonly codes: Codes
  readonly sampler: SamplerState
}>()("bark-pipeline/FineCodes") {}

/** codec: the chunk's waveform. */
export class ChunkAudio extends Context.Service<ChunkAudio, {
  readonly audio: Float32Array
}>()("bark-pipeline/ChunkAudio") {}

/** post: the chunk's audio as it is delivered (the pause before it included). */
export class SpokenAudio extends Context.Service<SpokenAudio, {
  readonly audio: Float32Array
}>()("bark-pipeline/SpokenAudio") {}

// ------------------------------------------------------------------ per engine

/**
 * Given by the engine: what the audio cache keys on besides the request (the
 * model, its commit and weight type), and the cache itself when
 * BARK_AUDIO_CACHE is on.
 */
export class AudioCacheStore extends Context.Service<AudioCacheStore, {
  readonly model: string
  readonly revision: string | null
  readonly dtype: string
  readonly cache: AudioCache | undefined
}>()("bark-pipeline/AudioCacheStore") {}
