/**
 * How the GPT graphs hold their big matrices: the linear layers (and LM
 * heads) and the token-embedding tables. The graph builders (./graph.ts) ask
 * a `WeightFormat` for every such matrix, so one place decides what each
 * dtype (../dtype.ts) stores and which op reads it.
 *
 * - `fp32`: MatMul over the weight transposed once, Gather over the table.
 * - `fp16`: the same over float16 weights, the activations cast to float16
 *   for the MatMul and back to float32 after it (and after the Gather).
 * - `quantized`: MatMulNBits and GatherBlockQuantized over block-quantised
 *   codes. A table whose rows do not pack into whole bytes (4-bit codes and
 *   an odd width) stays float32.
 * - `dequantized`: float32 ops over the values the quantised (or float16)
 *   ops compute with. It is the exactness
 *   reference: at accuracy level 0 a quantised graph must match the graph
 *   built with this format (tests).
 *
 * @since 0.3.0
 */
import { halfToFloat } from "../../checkpoint/Tensor.ts"
import { type BlockScheme, dequantize, packsInRows, quantize } from "../../onnx/blockQuant.ts"
import { toFloat16 } from "../../onnx/float16.ts"
import type { GraphBuilder, Value } from "../../onnx/graph.ts"
import { type AccuracyLevel, blockScheme, type Dtype } from "../dtype.ts"
import type { Param } from "./weights.ts"

export interface WeightFormat {
  readonly dtype: Dtype
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

export const fp32: WeightFormat = { dtype: "fp32", linear: fp32Linear, embedding: fp32Embedding }

const schemeOf = (dtype: Dtype): BlockScheme => {
  const scheme = blockScheme(dtype)
  if (scheme === undefined) throw new RangeError(`${dtype} is not a quantised dtype`)
  return scheme
}

/** float16 weights multiplied in float16 (see the module comment). */
export const fp16: WeightFormat = {
  dtype: "fp16",
  linear: (g, name, x, weight) => {
    const [out, inp] = dims(weight)
    const w = g.initializer(name, toFloat16(transpose(weight.data, out, inp)), [inp, out])
    return g.cast(g.matmul(g.cast(x, "float16"), w), "float32")
  },
  embedding: (g, name, table, ids) => g.cast(g.gather(g.initializer(name, toFloat16(table.data), table.shape), ids), "float32")
}

/** The format a model of `dtype` is converted to: the quantised ops at `accuracyLevel` for int8/q4. */
export const formatOf = (dtype: Dtype, accuracyLevel: AccuracyLevel = 4): WeightFormat =>
  dtype === "fp32" ? fp32 : dtype === "fp16" ? fp16 : quantized(dtype, accuracyLevel)

/** Block-quantised weights read by MatMulNBits / GatherBlockQuantized. */
export const quantized = (dtype: Dtype, accuracyLevel: AccuracyLevel = 4): WeightFormat => {
  const scheme = schemeOf(dtype)
  return {
    dtype,
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
  if (dtype === "fp16") {
    const rounded = (p: Param): Param => ({ data: Float32Array.from(toFloat16(p.data), halfToFloat), shape: p.shape })
    return {
      dtype: "fp32",
      linear: (g, name, x, weight) => fp32Linear(g, name, x, rounded(weight)),
      embedding: (g, name, table, ids) => fp32Embedding(g, name, rounded(table), ids)
    }
  }
  const scheme = schemeOf(dtype)
  const rounded = (p: Param, layout: "blocks" | "rows"): Param => ({
    data: dequantize(quantize(p.data, ...dims(p), scheme, layout)),
    shape: p.shape
  })
  return {
    dtype: "fp32",
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
