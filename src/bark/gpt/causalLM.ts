/**
 * `CausalLM` (Bark's semantic and coarse models) on an onnxruntime session of
 * the causal GPT graph. Each sequence owns a `KvCache`; a `DecoderState` is a
 * handle on it that `step` consumes (the buffers are updated in place, so an
 * older state of the same sequence is refused).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Tensor } from "onnxruntime-node"
import { float16Bits, float16Tensor } from "../../onnx/float16.ts"
import type { InferenceBackend, ModelSource } from "../../onnx/InferenceBackend.ts"
import type { GptConfig } from "../config.ts"
import { InferenceError } from "../../onnx/InferenceError.ts"
import type { CausalLM, DecoderState, DecoderStep } from "../models.ts"
import { causalGptGraph, type LogitsFor, names, paddedHeadDim } from "./graph.ts"
import { type KvBuffer, KvCache, type KvElement } from "./KvCache.ts"
import type { WeightFormat } from "./weightFormat.ts"
import { type CausalGptWeights, commonDims } from "./weights.ts"

/** Width of each of the two fields merged by merge_context (text ‖ history). */
export const MERGED_FIELD = 256

export interface CausalGpt extends CausalLM {
  /** Model name used in errors ("semantic", "coarse"). */
  readonly model: string
  /** Positions the model can attend over (`block_size`). */
  readonly blockSize: number
}

/** What a causal GPT's session needs to know of its model: its `config.json` section (biases aside). */
export type CausalDims = Omit<GptConfig, "bias">

/** The dims of `weights` (they match the config they were checked against). */
export const causalDims = (weights: CausalGptWeights): CausalDims => ({
  ...commonDims(weights),
  input_vocab_size: weights.tokenEmbedding.shape[0]!,
  output_vocab_size: weights.lmHead.shape[0]!
})

/**
 * Builds the graph of `weights` in memory and opens it on `backend` (see
 * `openCausalGpt`). With `logitsFor: "all"` the `logits` of `prefill` hold
 * every position (`[T, vocab]` row-major), which whole-sequence checks need;
 * generation uses "last" (the default). `format` holds the matrices
 * (default float32; ./weightFormat.ts).
 */
export const makeCausalGpt = Effect.fn("makeCausalGpt")(function*(
  model: string,
  weights: CausalGptWeights,
  backend: typeof InferenceBackend.Service,
  options: { readonly logitsFor?: LogitsFor; readonly format?: WeightFormat } = {}
) {
  const source = yield* Effect.try({
    try: () => causalGptGraph(weights, options.logitsFor ?? "last", options.format),
    catch: (cause) =>
      new InferenceError({
        model,
        message: `could not build the ${model} graph: ${cause instanceof Error ? cause.message : String(cause)}`,
        remediation: "check that the checkpoint matches its config.json"
      })
  })
  return yield* openCausalGpt(model, causalDims(weights), source, backend)
})

/**
 * Opens the causal GPT graph `source` (built bytes, or the path of a
 * converted model) as a session on `backend`, released with the scope.
 */
export const openCausalGpt = Effect.fn("openCausalGpt")(function*(
  model: string,
  dims: CausalDims,
  source: ModelSource,
  backend: typeof InferenceBackend.Service
) {
  const session = yield* backend.createSession(source, { model })
  const layers = dims.num_layers
  const heads = dims.num_heads
  const headDim = paddedHeadDim(dims.hidden_size, heads)
  const vocabIn = dims.input_vocab_size
  const vocabOut = dims.output_vocab_size
  const caches = new WeakMap<DecoderState, KvCache>()
  const kvNames = Array.from({ length: layers }, (_, l) => names.newKeyValues(l))
  const kvElement: KvElement = session.inputTypes[names.pastKey(0)] === "float16" ? "float16" : "float32"
  const kvTensor = (buffer: KvBuffer, dims: ReadonlyArray<number>) =>
    buffer instanceof Uint16Array ? float16Tensor(buffer, dims) : new Tensor("float32", buffer, dims)
  const kvRows = (data: Tensor["data"]): KvBuffer => (kvElement === "float16" ? float16Bits(data) : data as Float32Array)

  const fail = (message: string, remediation: string) => new InferenceError({ model, message, remediation })

  /** Runs `rows` (S rows of T ids, weighted) at positions cache.length.. and appends them to the cache. */
  const forward = Effect.fnUntraced(function*(cache: KvCache, ids: BigInt64Array, idWeights: Float32Array, rows: number) {
    const count = ids.length / rows
    const past = cache.length
    if (past + count > dims.block_size) {
      return yield* fail(
        `the ${model} sequence would reach ${past + count} positions; the model attends over at most ${dims.block_size}`,
        "shorten the text, the history prompt or the number of generated tokens"
      )
    }
    cache.reserve(past + count)
    const cacheDims = [1, heads, cache.capacity, headDim]
    const feeds: Record<string, Tensor> = {
      [names.inputIds]: new Tensor("int64", ids, [rows, count]),
      [names.inputWeights]: new Tensor("float32", idWeights, [rows, count]),
      [names.positionIds]: new Tensor("int64", BigInt64Array.from({ length: count }, (_, t) => BigInt(past + t)), [count]),
      [names.seqlensK]: new Tensor("int32", Int32Array.of(past + count - 1), [1]),
      [names.totalSequenceLength]: new Tensor("int32", Int32Array.of(past + count), [])
    }
    for (let l = 0; l < layers; l++) {
      feeds[names.pastKey(l)] = kvTensor(cache.keys[l]!, cacheDims)
      feeds[names.pastValue(l)] = kvTensor(cache.values[l]!, cacheDims)
    }
    const out = yield* session.run(feeds, [names.logits, ...kvNames])
    kvNames.forEach((name, l) => cache.write(l, kvRows(out[name]!.data), count))
    cache.length += count
    const state: DecoderState = { length: cache.length }
    caches.set(state, cache)
    return { logits: out[names.logits]!.data as Float32Array, state } satisfies DecoderStep
  })

  const checkIds = (ids: ArrayLike<number>) => {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      if (!Number.isInteger(id) || id < 0 || id >= vocabIn) {
        return fail(
          `token id ${id} at index ${i} is outside the ${model} vocabulary (0..${vocabIn - 1})`,
          "token ids must come from the Bark tokenizer / the previous stage's output"
        )
      }
    }
    return undefined
  }

  const prefill: CausalLM["prefill"] = (ids, prefillOptions) =>
    Effect.gen(function*() {
      const invalid = checkIds(ids)
      if (invalid) return yield* invalid
      const cache = new KvCache(layers, heads, headDim, kvElement)
      if (!prefillOptions?.mergeContext) {
        if (ids.length === 0) return yield* fail(`empty ${model} input`, "pass at least one token id")
        return yield* forward(cache, BigInt64Array.from(ids, BigInt), new Float32Array(ids.length).fill(1), 1)
      }
      if (ids.length <= 2 * MERGED_FIELD) {
        return yield* fail(
          `merge_context needs more than ${2 * MERGED_FIELD} ids (text field, history field, then at least one more), got ${ids.length}`,
          "build the semantic input as 256 text slots, 256 history slots and the infer token"
        )
      }
      // Row 0: text field then the rest; row 1: history field, added slot by slot to the text field.
      const count = ids.length - MERGED_FIELD
      const merged = new BigInt64Array(2 * count)
      const mergedWeights = new Float32Array(2 * count)
      for (let t = 0; t < count; t++) {
        merged[t] = BigInt(ids[t < MERGED_FIELD ? t : t + MERGED_FIELD]!)
        mergedWeights[t] = 1
        if (t < MERGED_FIELD) {
          merged[count + t] = BigInt(ids[MERGED_FIELD + t]!)
          mergedWeights[count + t] = 1
        }
      }
      return yield* forward(cache, merged, mergedWeights, 2)
    })

  const step: CausalLM["step"] = (state, id) =>
    Effect.gen(function*() {
      const cache = caches.get(state)
      if (cache === undefined || cache.length !== state.length) {
        return yield* fail(
          `stale or foreign ${model} decoder state (length ${state.length})`,
          "pass the state returned by the latest prefill/step of this model to the next step"
        )
      }
      const invalid = checkIds([id])
      if (invalid) return yield* invalid
      return yield* forward(cache, BigInt64Array.of(BigInt(id)), Float32Array.of(1), 1)
    })

  const gpt: CausalGpt = { model, blockSize: dims.block_size, outputVocabSize: vocabOut, prefill, step }
  return gpt
})
