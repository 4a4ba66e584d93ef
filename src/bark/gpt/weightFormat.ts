/**
 * How the GPT graphs hold their big matrices: the linear layers (and LM
 * heads) and the token-embedding tables. The graph builders (./graph.ts) ask
 * a `WeightFormat` for every such matrix, so one place decides what each
 * dtype (../dtype.ts) stores and which op reads it.
 *
 * - `fp32`: MatMul over the weight transposed once, Gather over the table.
 * - `quantized`: MatMulNBits and GatherBlockQuantized over block-quantised
 *   codes. A table whose rows do not pack into whole bytes (4-bit codes and
 *   an odd width) stays float32.
 * - `dequantized`: float32 ops over the values the quantised ops compute
 *   with, and the quantised graphs' float16 KV cache. It is the exactness
 *   reference: at accuracy level 0 a quantised graph must match the graph
 *   built with this format (tests).
 *
 * @since 0.3.0
 */
import { type BlockScheme, dequantize, packsInRows, quantize } from "../../onnx/blockQuant.ts"
import type { GraphBuilder, Value } from "../../onnx/graph.ts"
import { type AccuracyLevel, blockScheme, type Dtype } from "../dtype.ts"
import type { Param } from "./weights.ts"

export interface WeightFormat {
  readonly dtype: Dtype
  /**
   * The element type of the causal graphs' KV cache: float16 with quantised
   * weights (each decode step reads the whole cache; half the bytes made int4
   * steps ~1.5× faster at long contexts, ort-notes.md §4), float32 otherwise.
   */
  readonly kvCache: "float32" | "float16"
  /** `x · Wᵀ` for a PyTorch-layout weight `[out, in]` named `name` (no bias). */
  readonly linear: (g: GraphBuilder, name: string, x: Value, weight: Param) => Value
  /** Rows `ids` of the table `[rows, width]` named `name`. */
  readonly embedding: (g: GraphBuilder, name: string, table: Param, ids: Value) => Value
}

const dims = (p: Param) => p.shape as [number, number]

const fp32Linear: WeightFormat["linear"] = (g, name, x, weight) => {
  const [out, inp] = dims(weight)
  return g.matmul(x, g.initializer(name, transpose(weight.data, out, inp), [inp, out]))
}

const fp32Embedding: WeightFormat["embedding"] = (g, name, table, ids) => g.gather(g.initializer(name, table.data, table.shape), ids)

export const fp32: WeightFormat = { dtype: "fp32", kvCache: "float32", linear: fp32Linear, embedding: fp32Embedding }

const schemeOf = (dtype: Dtype): BlockScheme => {
  const scheme = blockScheme(dtype)
  if (scheme === undefined) throw new RangeError(`${dtype} is not a quantised dtype`)
  return scheme
}

/** Block-quantised weights read by MatMulNBits / GatherBlockQuantized. */
export const quantized = (dtype: Dtype, accuracyLevel: AccuracyLevel = 4): WeightFormat => {
  if (dtype === "fp32") return fp32
  const scheme = schemeOf(dtype)
  return {
    dtype,
    kvCache: "float16",
    linear: (g, name, x, weight) => g.matmulNBits(x, name, quantize(weight.data, ...dims(weight), scheme, "blocks"), accuracyLevel),
    embedding: (g, name, table, ids) => {
      const [rows, width] = dims(table)
      return packsInRows(width, scheme)
        ? g.gatherBlockQuantized(name, quantize(table.data, rows, width, scheme, "rows"), ids)
        : fp32Embedding(g, name, table, ids)
    }
  }
}

/** Float32 ops over `dtype`'s dequantised values (the exactness reference; see the module comment). */
export const dequantized = (dtype: Dtype): WeightFormat => {
  if (dtype === "fp32") return fp32
  const scheme = schemeOf(dtype)
  const rounded = (p: Param, layout: "blocks" | "rows"): Param => ({
    data: dequantize(quantize(p.data, ...dims(p), scheme, layout)),
    shape: p.shape
  })
  return {
    dtype: "fp32",
    kvCache: "float16",
    linear: (g, name, x, weight) => fp32Linear(g, name, x, rounded(weight, "blocks")),
    embedding: (g, name, table, ids) =>
      fp32Embedding(g, name, packsInRows(dims(table)[1], scheme) ? rounded(table, "rows") : table, ids)
  }
}

/** A row-major [rows, cols] matrix as [cols, rows], in cache-friendly tiles (conversion's hot loop). */
const transpose = (data: Float32Array, rows: number, cols: number): Float32Array => {
  const out = new Float32Array(data.length)
  const tile = 64
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const r1 = Math.min(r0 + tile, rows)
    for (let c0 = 0; c0 < cols; c0 += tile) {
      const c1 = Math.min(c0 + tile, cols)
      for (let r = r0; r < r1; r++) {
        for (let c = c0, from = r * cols + c0, to = c0 * rows + r; c < c1; c++, from++, to += rows) out[to] = data[from]!
      }
    }
  }
  return out
}
