/**
 * Bark's GPTs as ONNX graphs. Activations are float32; the linear layers and
 * embedding tables are held as a `WeightFormat` says (float32, or
 * block-quantised for int8/q4: ./weightFormat.ts), and so is the element
 * type of the KV cache (float32, or float16 with quantised weights).
 *
 * Causal (semantic, coarse): one graph serves the prefill and every decode
 * step, of one sequence or of a batch of B sequences at different lengths.
 * It takes `T` new positions per sequence and the key/value caches of the
 * earlier ones as capacity buffers `[B, heads, capacity, headDim]`, and
 * attends with com.microsoft GroupQueryAttention (causal; sequence b reads
 * only the first `seqlens_k[b] + 1` rows of its cache and the new ones).
 * Besides the logits it returns each layer's new keys and values (`kv_{l}`,
 * `[B, T, 2H]`, K | V, in the cache's element type), which the caller writes
 * into its buffers ("row-write", see ort-notes.md §4): the cache is never
 * copied out of onnxruntime. The `present_*` outputs exist only because
 * GroupQueryAttention ignores the past without them; they are never fetched.
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
 * Any head size: onnxruntime's CPU GroupQueryAttention accepts only head
 * sizes that are multiples of 8, so the causal graphs pad each head with zero
 * rows in the q/k/v projection and zero columns in the output projection
 * (`paddedHeadDim`) and attend with the scale of the true head size. Zero
 * keys add nothing to q·k and zero values nothing to the output, so the
 * numbers are the unpadded model's; the KV cache holds padded heads.
 *
 * @since 0.1.0
 */
import { concatFloat32 } from "../../checkpoint/Tensor.ts"
import { type BuiltModel, type Dim, float, GraphBuilder, type Value } from "../../onnx/graph.ts"
import { fp32, type WeightFormat } from "./weightFormat.ts"
import type { Block, CausalGptWeights, FineGptWeights, Linear, Norm, Param } from "./weights.ts"

/** Graph input and output names shared with the runtime side. */
export const names = {
  inputIds: "input_ids",
  inputWeights: "input_weights",
  positionIds: "position_ids",
  seqlensK: "seqlens_k",
  totalSequenceLength: "total_sequence_length",
  pastKey: (l: number) => `past_key_${l}`,
  pastValue: (l: number) => `past_value_${l}`,
  presentKey: (l: number) => `present_key_${l}`,
  presentValue: (l: number) => `present_value_${l}`,
  newKeyValues: (l: number) => `kv_${l}`,
  codes: "codes",
  predIdx: "pred_idx",
  logits: "logits"
} as const

/** Which positions get logits: the last one (generation) or all of them (whole-sequence checks). */
export type LogitsFor = "last" | "all"

/** The head size the causal graphs (and their KV caches) use: `hidden / heads` rounded up to a multiple of 8. */
export const paddedHeadDim = (hiddenSize: number, numHeads: number): number => Math.ceil(hiddenSize / numHeads / 8) * 8

/**
 * `b` with each head of width `headDim` widened to `padded` along one axis of
 * a PyTorch-layout Linear: the output rows (`"rows"`, q/k/v projection, where
 * `parts` = 3 groups of heads) or the input columns (`"cols"`, output
 * projection). New entries are zero.
 */
const padHeads = (l: Linear, heads: number, headDim: number, padded: number, axis: "rows" | "cols", parts: number): Linear => {
  if (padded === headDim) return l
  const [out, inp] = l.weight.shape as [number, number]
  const spread = (data: Float32Array, rowWidth: number, rows: number): Float32Array => {
    // Copies head after head: source run `headDim` wide, destination run `padded` wide, `rowWidth` values each.
    const runs = rows / headDim
    const dst = new Float32Array(runs * padded * rowWidth)
    for (let r = 0; r < runs; r++) dst.set(data.subarray(r * headDim * rowWidth, (r + 1) * headDim * rowWidth), r * padded * rowWidth)
    return dst
  }
  if (axis === "rows") {
    const rows = parts * heads * padded
    return {
      weight: { data: spread(l.weight.data, inp, out), shape: [rows, inp] },
      ...(l.bias ? { bias: { data: spread(l.bias.data, 1, out), shape: [rows] } } : {})
    }
  }
  const cols = heads * padded
  const data = new Float32Array(out * cols)
  for (let o = 0; o < out; o++) data.set(spread(l.weight.data.subarray(o * inp, (o + 1) * inp), 1, inp), o * cols)
  return { weight: { data, shape: [out, cols] }, ...(l.bias ? { bias: l.bias } : {}) }
}

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
 * A pre-LN transformer block on `x` `[T, H]`. `attend` maps the packed
 * projections `[T, 3H]` (q | k | v) to the attention output `[T, H]`.
 */
const block = (g: GraphBuilder, format: WeightFormat, name: string, x: Value, b: Block, attend: (qkv: Value) => Value): Value => {
  const qkv = linear(g, format, `${name}.attn.att_proj`, norm(g, `${name}.layernorm_1`, x, b.ln1), b.attnQkv)
  const attended = g.add(x, linear(g, format, `${name}.attn.out_proj`, attend(qkv), b.attnOut))
  const hidden = g.gelu(linear(g, format, `${name}.mlp.in_proj`, norm(g, `${name}.layernorm_2`, attended, b.ln2), b.mlpIn))
  return g.add(attended, linear(g, format, `${name}.mlp.out_proj`, hidden, b.mlpOut))
}

/** The semantic or coarse GPT with an explicit KV cache (see the module comment). */
export const causalGptGraph = (w: CausalGptWeights, logitsFor: LogitsFor, format: WeightFormat = fp32): BuiltModel => {
  const g = new GraphBuilder("bark_causal_gpt")
  const h = w.hiddenSize
  const heads = w.numHeads
  const trueHeadDim = h / heads
  const headDim = paddedHeadDim(h, heads)
  const width = heads * headDim
  const kv = format.kvCache

  const ids = g.input(names.inputIds, "int64", ["B", "S", "T"])
  const idWeights = g.input(names.inputWeights, "float32", ["B", "S", "T"])
  const positions = g.input(names.positionIds, "int64", ["B", "T"])
  const seqlensK = g.input(names.seqlensK, "int32", ["B"])
  const total = g.input(names.totalSequenceLength, "int32", [])

  const tokens = format.embedding(g, "input_embeds_layer.weight", w.tokenEmbedding, ids)
  const summed = g.reduceSum(g.mul(tokens, g.unsqueeze(idWeights, [-1])), [1])
  let x = g.add(summed, g.gather(param(g, "position_embeds_layer.weight", w.positionEmbedding), positions))

  w.blocks.forEach((unpadded, l) => {
    const b: Block = {
      ...unpadded,
      attnQkv: padHeads(unpadded.attnQkv, heads, trueHeadDim, headDim, "rows", 3),
      attnOut: padHeads(unpadded.attnOut, heads, trueHeadDim, headDim, "cols", 1)
    }
    x = block(g, format, `layers.${l}`, x, b, (qkv) => {
      const packed = kv === "float16" ? g.cast(qkv, "float16") : qkv
      g.output(g.slice(packed, [width], [3 * width], [2]), names.newKeyValues(l))
      const cacheShape: ReadonlyArray<Dim> = ["B", heads, "capacity", headDim]
      const [out, presentKey, presentValue] = g.op(
        "GroupQueryAttention",
        [
          packed,
          null,
          null,
          g.input(names.pastKey(l), kv, cacheShape),
          g.input(names.pastValue(l), kv, cacheShape),
          seqlensK,
          total
        ],
        { num_heads: heads, kv_num_heads: heads, scale: float(1 / Math.sqrt(trueHeadDim)) },
        [
          { dtype: kv, shape: ["B", "T", width] },
          { dtype: kv, shape: cacheShape, name: names.presentKey(l) },
          { dtype: kv, shape: cacheShape, name: names.presentValue(l) }
        ],
        "com.microsoft"
      )
      g.output(presentKey!)
      g.output(presentValue!)
      return kv === "float16" ? g.cast(out!, "float32") : out!
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
