/**
 * The four Bark sub-models as the generation code sees them: plain functions
 * from token ids to logits (or codes to audio). `src/bark/graphs` implements
 * them on onnxruntime; tests may implement them in memory.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import type { InferenceError } from "../onnx/InferenceError.ts"

/** The sub-models in generation order; also their session (and graph) names. */
export const SUB_MODELS = ["semantic", "coarse", "fine", "codec"] as const
export type SubModel = typeof SUB_MODELS[number]

/**
 * The key/value cache of one sequence. Opaque; it is consumed by `step`:
 * after `step(state, id)` use only the state that call returned.
 */
export interface DecoderState {
  /** Number of positions already in the cache. */
  readonly length: number
}

export interface DecoderStep {
  /** Logits of the last position, `outputVocabSize` entries. */
  readonly logits: Float32Array
  readonly state: DecoderState
}

/** A sequence's place in a `DecoderBatch`. Opaque; valid until released. */
export interface BatchSlot {
  /** Number of positions in its cache. */
  readonly length: number
}

/**
 * Several sequences decoded together: each step runs the model once for all
 * of them, so the weights are read once per step instead of once per
 * sequence. Sequences join (prefill, alone), step together and leave at any
 * step boundary; each keeps its own cache and position.
 */
export interface DecoderBatch {
  /** Sequences in the batch. */
  readonly size: number
  /**
   * Prefills `ids` alone into a new slot, or into `restart` (whose cache is
   * emptied first), and returns the slot with the logits of its last position.
   */
  readonly prefill: (
    ids: Int32Array,
    options?: { readonly mergeContext?: boolean; readonly restart?: BatchSlot }
  ) => Effect.Effect<{ readonly slot: BatchSlot; readonly logits: Float32Array }, InferenceError>
  /** Appends one token to each listed sequence in one run; the logits in the order given. */
  readonly step: (
    entries: ReadonlyArray<{ readonly slot: BatchSlot; readonly id: number }>
  ) => Effect.Effect<ReadonlyArray<Float32Array>, InferenceError>
  /** Frees a sequence's slot. */
  readonly release: (slot: BatchSlot) => void
}

/** A causal GPT with a KV cache: Bark's semantic ("text") and coarse models. */
export interface CausalLM {
  readonly outputVocabSize: number
  /**
   * Runs a fresh sequence. With `mergeContext` (semantic model only) the first
   * 512 ids are two 256-slot fields whose embeddings are added slot by slot, so
   * the sequence is 256 positions shorter than `ids`.
   */
  readonly prefill: (
    ids: Int32Array,
    options?: { readonly mergeContext?: boolean }
  ) => Effect.Effect<DecoderStep, InferenceError>
  /** Appends one token to the cached sequence. */
  readonly step: (state: DecoderState, id: number) => Effect.Effect<DecoderStep, InferenceError>
  /**
   * An empty batch, for decoding several sequences at once. Models without
   * one are batched one sequence at a time (`batchOf` in ./generate/batch.ts).
   */
  readonly batch?: () => DecoderBatch
}

/** The non-causal fine model over a 1024-frame window of 8 codebooks. */
export interface FineLM {
  readonly windowSize: number
  readonly nCodes: number
  readonly outputVocabSize: number
  /**
   * `codes` is `[frames, nCodes]` row-major (frame-major), pad 1024; generation
   * always passes whole windows (`frames` = `windowSize`), shorter inputs serve
   * warm-up. Returns logits `[frames, outputVocabSize]` row-major for codebook
   * `predIdx` (1..nCodes-1).
   */
  readonly run: (codes: Int32Array, predIdx: number) => Effect.Effect<Float32Array, InferenceError>
}

/** EnCodec 24 kHz decoding: codebooks → waveform. */
export interface CodecDecoder {
  readonly sampleRate: number
  /** Samples per frame (320 at 24 kHz). */
  readonly hopLength: number
  /**
   * `codes` is `[codebooks, frames]` row-major (codebook-major): the first
   * `codebooks` (1..8, default 8) of EnCodec's residual codebooks. 8 is Bark's
   * 6 kbps; 2, the coarse stage's alone, decodes at 1.5 kbps (a draft without
   * the fine stage). Returns `frames × hopLength` samples for any `codebooks`.
   */
  readonly decode: (codes: Int32Array, frames: number, codebooks?: number) => Effect.Effect<Float32Array, InferenceError>
}

export interface BarkModels {
  readonly semantic: CausalLM
  readonly coarse: CausalLM
  readonly fine: FineLM
  readonly codec: CodecDecoder
}
