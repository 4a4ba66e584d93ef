/**
 * `CausalLM` (Bark's semantic and coarse models) on an onnxruntime session of
 * the causal GPT graph. A `DecoderBatch` holds the caches of several
 * sequences in one `KvCache`: each joins with a prefill of its own and then
 * steps with the others, one run of the model per step for all of them. A
 * lone sequence (`prefill`/`step`) is a batch of one; its `DecoderState` is
 * a handle that `step` consumes (the buffers are updated in place, so an
 * older state of the same sequence is refused).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Tensor } from "onnxruntime-node"
import type { InferenceBackend, ModelSource } from "../../onnx/InferenceBackend.ts"
import type { GptConfig } from "../config.ts"
import { InferenceError } from "../../onnx/InferenceError.ts"
import type { BatchSlot, CausalLM, DecoderBatch, DecoderState, DecoderStep } from "../models.ts"
import { causalGptGraph, type LogitsFor, names } from "./graph.ts"
import { KvCache } from "./KvCache.ts"
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
  const headDim = dims.hidden_size / heads
  const vocabIn = dims.input_vocab_size
  const vocabOut = dims.output_vocab_size
  const kvNames = Array.from({ length: layers }, (_, l) => names.newKeyValues(l))

  const fail = (message: string, remediation: string) => new InferenceError({ model, message, remediation })
  const tooLong = (positions: number) =>
    fail(
      `the ${model} sequence would reach ${positions} positions; the model attends over at most ${dims.block_size}`,
      "shorten the text, the history prompt or the number of generated tokens"
    )

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

  /** The graph's input rows for a prefill: one row, or (merge_context) the text and history fields summed slot by slot. */
  const prefillRows = (ids: Int32Array, mergeContext: boolean) => {
    if (!mergeContext) {
      if (ids.length === 0) return fail(`empty ${model} input`, "pass at least one token id")
      return { ids: BigInt64Array.from(ids, BigInt), weights: new Float32Array(ids.length).fill(1), rows: 1 }
    }
    if (ids.length <= 2 * MERGED_FIELD) {
      return fail(
        `merge_context needs more than ${2 * MERGED_FIELD} ids (text field, history field, then at least one more), got ${ids.length}`,
        "build the semantic input as 256 text slots, 256 history slots and the infer token"
      )
    }
    // Row 0: text field then the rest; row 1: history field, added slot by slot to the text field.
    const count = ids.length - MERGED_FIELD
    const merged = new BigInt64Array(2 * count)
    const weights = new Float32Array(2 * count)
    for (let t = 0; t < count; t++) {
      merged[t] = BigInt(ids[t < MERGED_FIELD ? t : t + MERGED_FIELD]!)
      weights[t] = 1
      if (t < MERGED_FIELD) {
        merged[count + t] = BigInt(ids[MERGED_FIELD + t]!)
        weights[count + t] = 1
      }
    }
    return { ids: merged, weights, rows: 2 }
  }

  /** A batch of sequences on one KV cache; slot handles follow their sequence when slots move. */
  const makeBatch = (): DecoderBatch => {
    const cache = new KvCache(layers, heads, headDim)
    const handles: Array<{ index: number; length: number; released: boolean }> = []
    const handleOf = (slot: BatchSlot) => {
      const handle = slot as { index: number; length: number; released: boolean }
      return handle.released || handles[handle.index] !== handle ? undefined : handle
    }
    /**
     * The caches of the first `lengths.length` slots, at `capacity` positions (the cache's, or 0 for an empty
     * past), and the bias that lets each of their `count` new positions see its filled rows and the new ones up
     * to itself.
     */
    const cacheFeeds = (feeds: Record<string, Tensor>, lengths: ReadonlyArray<number>, count: number, capacity: number) => {
      const batch = lengths.length
      const view = (buffer: Float32Array) => buffer.subarray(0, batch * heads * capacity * headDim)
      for (let l = 0; l < layers; l++) {
        feeds[names.pastKey(l)] = new Tensor("float32", view(cache.keys[l]!), [batch, heads, headDim, capacity])
        feeds[names.pastValue(l)] = new Tensor("float32", view(cache.values[l]!), [batch, heads, capacity, headDim])
      }
      const columns = capacity + count
      const bias = new Float32Array(batch * count * columns).fill(-Infinity)
      lengths.forEach((length, b) => {
        for (let t = 0; t < count; t++) {
          const row = (b * count + t) * columns
          bias.fill(0, row, row + length)
          bias.fill(0, row + capacity, row + capacity + t + 1)
        }
      })
      feeds[names.attentionBias] = new Tensor("float32", bias, [batch, 1, count, columns])
    }

    const prefill: DecoderBatch["prefill"] = (ids, options) =>
      Effect.gen(function*() {
        const invalid = checkIds(ids)
        if (invalid) return yield* invalid
        const input = prefillRows(ids, options?.mergeContext === true)
        if (input instanceof InferenceError) return yield* input
        const count = input.ids.length / input.rows
        if (count > dims.block_size) return yield* tooLong(count)
        let handle = options?.restart === undefined ? undefined : handleOf(options.restart)
        if (options?.restart !== undefined && handle === undefined) {
          return yield* fail(`a released ${model} batch slot was restarted`, "restart only slots of this batch that are still in it")
        }
        if (handle === undefined) {
          handle = { index: cache.add(), length: 0, released: false }
          handles.push(handle)
        }
        const slot = handle.index
        cache.lengths[slot] = 0
        cache.reserve(cache.size, count)
        const feeds: Record<string, Tensor> = {
          [names.inputIds]: new Tensor("int64", input.ids, [1, input.rows, count]),
          [names.inputWeights]: new Tensor("float32", input.weights, [1, input.rows, count]),
          [names.positionIds]: new Tensor("int64", BigInt64Array.from({ length: count }, (_, t) => BigInt(t)), [1, count])
        }
        // A prefill starts the sequence: an empty past (capacity 0) spares the scores against unfilled rows.
        cacheFeeds(feeds, [0], count, 0)
        const out = yield* session.run(feeds, [names.logits, ...kvNames])
        kvNames.forEach((name, l) => cache.write(l, out[name]!.data as Float32Array, slot, count))
        cache.lengths[slot] = count
        handle.length = count
        return { slot: handle, logits: out[names.logits]!.data as Float32Array }
      })

    const step: DecoderBatch["step"] = (entries) =>
      Effect.gen(function*() {
        const size = cache.size
        // Every occupied slot runs (the batch is one contiguous block); slots not stepping get a dummy token whose
        // rows and logits are dropped.
        const tokens = new BigInt64Array(size)
        const positions = new BigInt64Array(size)
        const stepping: Array<number> = []
        let longest = 0
        for (let s = 0; s < size; s++) longest = Math.max(longest, cache.lengths[s]!)
        for (const { slot, id } of entries) {
          const handle = handleOf(slot)
          if (handle === undefined) return yield* fail(`a released ${model} batch slot was stepped`, "step only slots that are still in the batch")
          const invalid = checkIds([id])
          if (invalid) return yield* invalid
          if (handle.length + 1 > dims.block_size) return yield* tooLong(handle.length + 1)
          tokens[handle.index] = BigInt(id)
          stepping.push(handle.index)
        }
        for (let s = 0; s < size; s++) {
          positions[s] = BigInt(Math.min(cache.lengths[s]!, dims.block_size - 1))
        }
        cache.reserve(size, longest + 1)
        const feeds: Record<string, Tensor> = {
          [names.inputIds]: new Tensor("int64", tokens, [size, 1, 1]),
          [names.inputWeights]: new Tensor("float32", new Float32Array(size).fill(1), [size, 1, 1]),
          [names.positionIds]: new Tensor("int64", positions, [size, 1])
        }
        cacheFeeds(feeds, cache.lengths, 1, cache.capacity)
        const out = yield* session.run(feeds, [names.logits, ...kvNames])
        const rowWidth = 2 * heads * headDim
        kvNames.forEach((name, l) => {
          const rows = out[name]!.data as Float32Array
          for (const s of stepping) cache.write(l, rows.subarray(s * rowWidth, (s + 1) * rowWidth), s, 1)
        })
        for (const s of stepping) handles[s]!.length = ++cache.lengths[s]!
        const logits = out[names.logits]!.data as Float32Array
        return entries.map(({ slot }) => {
          const s = handleOf(slot)!.index
          return logits.subarray(s * vocabOut, (s + 1) * vocabOut)
        })
      })

    const release = (slot: BatchSlot) => {
      const handle = handleOf(slot)
      if (handle === undefined) return
      handle.released = true
      const moved = cache.remove(handle.index)
      if (moved !== undefined) {
        const last = handles[moved]!
        last.index = handle.index
        handles[handle.index] = last
      }
      handles.pop()
    }

    return {
      get size() {
        return cache.size
      },
      prefill,
      step,
      release
    }
  }

  // One sequence: a batch of its own, and a state per step so a stale one is refused.
  const sequences = new WeakMap<DecoderState, { readonly batch: DecoderBatch; readonly slot: BatchSlot }>()
  const decoded = (batch: DecoderBatch, slot: BatchSlot, logits: Float32Array): DecoderStep => {
    const state: DecoderState = { length: slot.length }
    sequences.set(state, { batch, slot })
    return { logits, state }
  }

  const prefill: CausalLM["prefill"] = (ids, prefillOptions) =>
    Effect.gen(function*() {
      const batch = makeBatch()
      const out = yield* batch.prefill(ids, prefillOptions?.mergeContext === true ? { mergeContext: true } : {})
      return decoded(batch, out.slot, out.logits)
    })

  const step: CausalLM["step"] = (state, id) =>
    Effect.gen(function*() {
      const sequence = sequences.get(state)
      if (sequence === undefined || sequence.slot.length !== state.length) {
        return yield* fail(
          `stale or foreign ${model} decoder state (length ${state.length})`,
          "pass the state returned by the latest prefill/step of this model to the next step"
        )
      }
      const [logits] = yield* sequence.batch.step([{ slot: sequence.slot, id }])
      return decoded(sequence.batch, sequence.slot, logits!)
    })

  const gpt: CausalGpt = { model, blockSize: dims.block_size, outputVocabSize: vocabOut, prefill, step, batch: makeBatch }
  return gpt
})
