/**
 * What a synthesis needs from the loaded model, one call per generation step:
 * the tokenizer and the voices (read from the model directory, wherever the
 * models run), and the four sub-models' steps — semantic, coarse, fine, codec
 * — each taking and returning plain data, so that a step can run on this
 * thread or on the worker engine's.
 *
 * The sampler crosses as a `SamplerState`: a chunk's semantic, coarse and fine
 * steps draw from one stream in turn, and each step hands on where it left
 * it, so a chain of steps draws exactly what one `generateAudio` call draws.
 *
 * The startup recipe's `ready` stage provides it beside the `BarkEngine`;
 * the synthesis stages (./*.ts) call it.
 *
 * @since 0.5.0
 */
import type { Effect } from "effect"
import { Context } from "effect"
import type { SynthesisError } from "../engine/BarkEngine.ts"
import type { CoarseParams } from "../generate/coarse.ts"
import type { Codes } from "../generate/Codes.ts"
import type { FineParams } from "../generate/fine.ts"
import type { Progress } from "../generate/Progress.ts"
import type { SamplerState } from "../generate/sampling.ts"
import type { SemanticParams, SemanticResult } from "../generate/semantic.ts"
import type { VoicePrompt } from "../generate/VoicePrompt.ts"
import type { Tokenizer } from "../tokenizer.ts"

/** What every step takes: the voice (history prompt), the sampler's state and an optional progress callback. */
export interface StepInput<P> {
  readonly history: VoicePrompt | undefined
  readonly params: P
  readonly sampler: SamplerState
  readonly onProgress?: Progress | undefined
}

/** A step's result and where it left the sampler. */
export interface Sampled<A> {
  readonly value: A
  readonly sampler: SamplerState
}

export class BarkSteps extends Context.Service<BarkSteps, {
  readonly sampleRate: number
  /** Voice names the model directory offers. */
  readonly voices: ReadonlyArray<string>
  readonly tokenizer: Tokenizer
  /** A voice by name (or a path to a suno `.npz`, for local callers); cached per name. */
  readonly voice: (name: string) => Effect.Effect<VoicePrompt, SynthesisError>
  /** Text ids (BERT, without the offset) → semantic tokens. */
  readonly semantic: (input: StepInput<SemanticParams> & { readonly textIds: Int32Array }) => Effect.Effect<Sampled<SemanticResult>, SynthesisError>
  /** Semantic tokens → codebooks 0..1. */
  readonly coarse: (input: StepInput<CoarseParams> & { readonly semantic: Int32Array }) => Effect.Effect<Sampled<Codes>, SynthesisError>
  /** Codebooks 0..1 → codebooks 0..7. */
  readonly fine: (input: StepInput<FineParams> & { readonly coarse: Codes }) => Effect.Effect<Sampled<Codes>, SynthesisError>
  /** The first `codes.rows` codebooks (8 for Bark, 2 for the draft lane) → 24 kHz samples. */
  readonly codec: (codes: Codes) => Effect.Effect<Float32Array, SynthesisError>
}>()("bark-pipeline/BarkSteps") {}
