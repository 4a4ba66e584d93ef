/**
 * Bark's GPTs as ONNX graphs. Activations are float32; the linear layers and
 * embedding tables are held as a `WeightFormat` says (float32, or
 * block-quantised for int8/q4: ./weightFormat.ts).
 *
 * Causal (semantic, coarse): one graph serves the prefill and every decode
 * step, of one sequence or of a batch of B sequences at different lengths.
 * It takes `T` new positions per sequence and the keys and values of the
 * earlier ones in float32 capacity buffers that the caller owns: keys
 * transposed, `[B, heads, headDim, capacity]`, values `[B, heads, capacity,
 * headDim]`. Attention is plain MatMuls over those buffers, read in place:
 * the scores of the cached positions and of the new ones are concatenated,
 * `attention_bias` `[B, 1, T, capacity + T]` (0 or -Infinity) hides the
 * unfilled rows of each sequence's cache and the new positions still in its
 * future, and one softmax weighs both parts. Besides the logits the graph
 * returns each layer's new keys and values (`kv_{l}`, `[B, T, 2H]`, K | V),
 * which the caller writes into its buffers: the cache never travels back out
 * of onnxruntime, and nothing copies it per step. (GroupQueryAttention, used
 * before, copies each sequence's whole past into its present output on every
 * step; see bench/results/attention.md.)
 *
 * Token embeddings are summed over the rows of `input_ids` `[B, S, T]`
 * weighted by `input_weights`: S = 1 normally, S = 2 for the semantic model's
 * merge_context prefill (text + history slot by slot). Positions are per
 * sequence, `position_ids` `[B, T]`.
 *
 * Fine: non-causal over `codes` `[T, nCodes]`; `pred_idx` (a scalar input)
 * selects the codebooks summed into the embedding (0..pred_idx) and the LM
 * head, so one session serves every codebook.
 *
 * @since 0.1.0
 */
import { concatFloat32 } from "../../files/bytes.ts"
import { type BuiltModel, GraphBuilder, type Value } from "../../onnx/graph.ts"
import { fp32, type WeightFormat } from "./weightFormat.ts"
import type { Block, CausalGptWeights, FineGptWeights, Linear, Norm, Param } from "./weights.ts"

/** Graph input and output names shared with the runtime side. */
export const names = {
  inputIds: "input_ids",
  inputWeights: "input_weights",
  positionIds: "position_ids",
  attentionBias: "attention_bias",
  pastKey: (l: number) => `past_key_${l}`,
  pastValue: (l: number) => `past_value_${l}`,
  newKeyValues: (l: number) => `kv_${l}`,
  codes: "codes",
  predIdx: "pred_idx",
  logits: "logits"
} as const

/** Which positions get logits: the last one (generation) or all of them (whole-sequence checks). */
export type LogitsFor = "last" | "all"

/** Model parts as graph values, named after their checkpoint tensors. */
const param = (g: GraphBuilder, name: string, p: Param): Value => g.initializer(name, p.data, p.shape)

const norm = (g: GraphBuilder, name: string, x: Value, n: Norm): Value =>
  g.layerNorm(x, param(g, `${name}.weight`, n.weight), n.bias && param(g, `${name}.bias`, n.bias))

/** `x · Wᵀ (+ b)`, the weight held as `format` says. */
const linear = (g: GraphBuilder, format: WeightFormat, name: string, x: Value, l: Linear): Value => {
  const y = format.linear(g, `${name}.weight`, x, l.weight)
  return l.bias ? g.add(y, param(g, `${name}.bias`, l.bias)) : y
}

/**
 * A pre-LN transformer block on `x` `[..., T, H]`. `attend` maps the packed
 * projections `[..., T, 3H]` (q | k | v) to the attention output
 * `[..., T, H]`.
 */
const block = (g: GraphBuilder, format: WeightFormat, name: string, x: Value, b: Block, attend: (qkv: Value) => Value): Value => {
  const qkv = linear(g, format, `${name}.attn.att_proj`, norm(g, `${name}.layernorm_1`, x, b.ln1), b.attnQkv)
  const attended = g.add(x, linear(g, format, `${name}.attn.out_proj`, attend(qkv), b.attnOut))
  const hidden = g.gelu(linear(g, format, `${name}.mlp.in_proj`, norm(g, `${name}.layernorm_2`, attended, b.ln2), b.mlpIn))
  return g.add(attended, linear(g, format, `${name}.mlp.out_proj`, hidden, b.mlpOut))
}

/**
 * Causal self-attention of the new positions over the cache and themselves
 * (module comment). `qkv` is `[B, T, 3H]` (q | k | v) with q scaled by
 * 1/√headDim, `capacity` the caches' capacity as int64 `[1]`. Returns
 * `[B, T, H]`.
 */
const cachedAttention = (
  g: GraphBuilder,
  qkv: Value,
  cache: { readonly key: Value; readonly value: Value; readonly capacity: Value; readonly bias: Value },
  hidden: number,
  heads: number
): Value => {
  const headDim = hidden / heads
  // Part i of qkv, [B, T, H] → [B, T, heads, headDim] → transposed by `perm`.
  const part = (i: number, perm: ReadonlyArray<number>) =>
    g.transpose(g.reshape(g.slice(qkv, [i * hidden], [(i + 1) * hidden], [2]), [0, 0, heads, headDim]), perm)
  const q = part(0, [0, 2, 1, 3]) // already scaled (scaledQuery)
  const scores = g.concat([g.matmul(q, cache.key), g.matmul(q, part(1, [0, 2, 3, 1]))], 3)
  const weights = g.softmax(g.add(scores, cache.bias))
  const columns = (from: Value, to: Value) =>
    g.op("Slice", [weights, from, to, g.ints([3])], {}, [{ dtype: "float32", shape: weights.shape }])[0]!
  const cached = g.matmul(columns(g.ints([0]), cache.capacity), cache.value)
  const fresh = g.matmul(columns(cache.capacity, g.ints([Number.MAX_SAFE_INTEGER])), part(2, [0, 2, 1, 3]))
  return g.reshape(g.transpose(g.add(cached, fresh), [0, 2, 1, 3]), [0, 0, hidden])
}

/**
 * `qkv` with its query rows scaled by 1/√headDim, which the attention would
 * otherwise apply to q or to the scores: onnxruntime fuses such a Mul into a
 * FusedMatMul, whose scaled GEMM misses the fast single-row path of MatMul
 * (1.5× slower scores at 8 sequences).
 */
const scaledQuery = (qkv: Linear, hidden: number, headDim: number): Linear => {
  const scale = 1 / Math.sqrt(headDim)
  const scaled = (p: Param, rowWidth: number): Param => {
    const data = p.data.slice()
    for (let i = 0; i < hidden * rowWidth; i++) data[i]! *= scale
    return { data, shape: p.shape }
  }
  return { weight: scaled(qkv.weight, qkv.weight.shape[1]!), ...(qkv.bias ? { bias: scaled(qkv.bias, 1) } : {}) }
}

/** The semantic or coarse GPT with an explicit KV cache (see the module comment). */
export const causalGptGraph = (w: CausalGptWeights, logitsFor: LogitsFor, format: WeightFormat = fp32): BuiltModel => {
  const g = new GraphBuilder("bark_causal_gpt")
  const h = w.hiddenSize
  const heads = w.numHeads
  const headDim = h / heads

  const ids = g.input(names.inputIds, "int64", ["B", "S", "T"])
  const idWeights = g.input(names.inputWeights, "float32", ["B", "S", "T"])
  const positions = g.input(names.positionIds, "int64", ["B", "T"])
  const bias = g.input(names.attentionBias, "float32", ["B", 1, "T", "total"])
  const keys = w.blocks.map((_, l) => g.input(names.pastKey(l), "float32", ["B", heads, headDim, "capacity"]))
  const values = w.blocks.map((_, l) => g.input(names.pastValue(l), "float32", ["B", heads, "capacity", headDim]))
  const [capacity] = g.op("Shape", [values[0]!], { start: 2, end: 3 }, [{ dtype: "int64", shape: [1] }])

  const tokens = format.embedding(g, "input_embeds_layer.weight", w.tokenEmbedding, ids)
  const summed = g.reduceSum(g.mul(tokens, g.unsqueeze(idWeights, [-1])), [1])
  let x = g.add(summed, g.gather(param(g, "position_embeds_layer.weight", w.positionEmbedding), positions))

  w.blocks.forEach((b, l) => {
    x = block(g, format, `layers.${l}`, x, { ...b, attnQkv: scaledQuery(b.attnQkv, h, headDim) }, (qkv) => {
      g.output(g.slice(qkv, [h], [3 * h], [2]), names.newKeyValues(l))
      return cachedAttention(g, qkv, { key: keys[l]!, value: values[l]!, capacity: capacity!, bias }, h, heads)
    })
  })

  const final = norm(g, "layernorm_final", x, w.lnFinal)
  const projected = logitsFor === "last" ? g.slice(final, [-1], [Number.MAX_SAFE_INTEGER], [1]) : final
  g.output(linear(g, format, "lm_head", projected, { weight: w.lmHead }), names.logits)
  return g.build({ externalDataPath: "weights.bin" })
}

/** The fine GPT: logits `[T, outputVocab]` of codebook `pred_idx` given `codes` `[T, nCodes]`. */
export const fineGptGraph = (w: FineGptWeights, format: WeightFormat = fp32): BuiltModel => {
  const g = new GraphBuilder("bark_fine_gpt")
  const h = w.hiddenSize
  const nCodes = w.tokenEmbeddings.length
  const vocabIn = w.tokenEmbeddings[0]!.shape[0]!
  const vocabOut = w.lmHeads[0]!.shape[0]!

  const codes = g.input(names.codes, "int64", ["T", nCodes])
  const predIdx = g.input(names.predIdx, "int64", [])

  // All codebook tables stacked into one: codebook i's code c is row i·vocabIn + c.
  const tables = { data: concatFloat32(w.tokenEmbeddings.map((p) => p.data)), shape: [nCodes * vocabIn, h] }
  const offsets = g.ints(Array.from({ length: nCodes }, (_, i) => i * vocabIn))
  const perCodebook = format.embedding(g, "input_embeds_layers", tables, g.add(codes, offsets)) // [T, nCodes, H]
  // Codebooks 0..pred_idx inclusive take part in the sum.
  const codebookIds = g.ints(Array.from({ length: nCodes }, (_, i) => i))
  const [included] = g.op("LessOrEqual", [codebookIds, predIdx], {}, [{ dtype: "bool", shape: [nCodes] }])
  const mask = g.unsqueeze(g.cast(included!, "float32"), [-1]) // [nCodes, 1]
  const summed = g.reduceSum(g.mul(perCodebook, mask), [1])

  const [shape] = g.op("Shape", [codes], { start: 0, end: 1 }, [{ dtype: "int64", shape: [1] }])
  const [positions] = g.op(
    "Slice",
    [param(g, "position_embeds_layer.weight", w.positionEmbedding), g.ints([0]), shape!, g.ints([0])],
    {},
    [{ dtype: "float32", shape: ["T", h] }]
  )
  let x = g.add(summed, positions!)

  w.blocks.forEach((b, l) => {
    x = block(g, format, `layers.${l}`, x, b, (qkv) => {
      const part = (i: number) => g.unsqueeze(g.slice(qkv, [i * h], [(i + 1) * h], [1]), [0])
      const [out] = g.op("MultiHeadAttention", [part(0), part(1), part(2)], { num_heads: w.numHeads }, [
        { dtype: "float32", shape: [1, "T", h] }
      ], "com.microsoft")
      return g.squeeze(out!, [0])
    })
  })

  // All heads stacked as one table too: head k's rows are (k - nCodesGiven)·vocabOut + 0..vocabOut-1.
  const heads = { data: concatFloat32(w.lmHeads.map((p) => p.data)), shape: [w.lmHeads.length * vocabOut, h] }
  const firstRow = g.mul(g.sub(predIdx, g.ints([w.nCodesGiven], [])), g.ints([vocabOut], []))
  const head = format.embedding(g, "lm_heads", heads, g.add(firstRow, g.ints(Array.from({ length: vocabOut }, (_, i) => i))))
  g.output(g.linear(norm(g, "layernorm_final", x, w.lnFinal), head), names.logits)
  return g.build({ externalDataPath: "weights.bin" })
}
