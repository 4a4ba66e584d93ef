/**
 * The weight types a Bark model can be converted to (`BARK_DTYPE`).
 *
 * - `fp32`: the checkpoint's weights as float32 (the reference).
 * - `fp16`: the GPTs' linear layers, LM heads and token-embedding tables as
 *   float16, multiplied in float16 (tensor cores on CUDA), with a float16 KV
 *   cache; meant for GPUs (on a CPU it is slower than fp32).
 * - `int8`: the linear layers, LM heads and token-embedding tables of the
 *   semantic, coarse and fine GPTs as 8-bit codes with one float32 scale per
 *   32 values (src/onnx/blockQuant.ts); biases, LayerNorms, position
 *   embeddings and the codec stay float32.
 * - `q4`: the same with 4-bit codes.
 *
 * Quantised graphs run the linear layers with onnxruntime's MatMulNBits at
 * accuracy level 4 (activations quantised to int8 per block), the fastest on
 * AVX2 CPUs without VNNI (ort-notes.md §3).
 *
 * @since 0.3.0
 */
import type { BlockScheme } from "../onnx/blockQuant.ts"

export const DTYPES = ["fp32", "fp16", "int8", "q4"] as const
export type Dtype = typeof DTYPES[number]

/** MatMulNBits accuracy level: 4 computes with int8 activations (fast), 0 in float32 (the exactness tests use it). */
export type AccuracyLevel = 0 | 4

/** The block scheme of a quantised dtype; undefined for fp32. */
export const blockScheme = (dtype: Dtype): BlockScheme | undefined =>
  dtype === "int8" ? { bits: 8, blockSize: 32 } : dtype === "q4" ? { bits: 4, blockSize: 32 } : undefined
