/**
 * float16 as raw bits (`Uint16Array`): conversion from float32, and tensors
 * across onnxruntime-node.
 *
 * Where the runtime has `Float16Array` (Node ≥ 24), onnxruntime-common wraps
 * a `Uint16Array` given for a float16 tensor in a `Float16Array` view, which
 * the native binding of onnxruntime-node 1.30 reads as empty ("not enough
 * space: expected N, got 0"). `float16Tensor` keeps the `Uint16Array` as the
 * tensor's data, so the binding sees the bytes; `float16Bits` views any
 * float16 output's data as bits.
 *
 * @since 0.3.0
 */
import { Tensor } from "onnxruntime-node"

/** A float16 tensor over `bits` (no copy). */
export const float16Tensor = (bits: Uint16Array, dims: ReadonlyArray<number>): Tensor => {
  const tensor = new Tensor("float16", bits, dims)
  // The field onnxruntime-common keeps CPU data in, and the binding reads through `data`.
  ;(tensor as unknown as { cpuData: Uint16Array }).cpuData = bits
  return tensor
}

/** The bits of a float16 tensor's data, whichever array type holds them (no copy). */
export const float16Bits = (data: Tensor["data"]): Uint16Array => {
  const view = data as unknown as ArrayBufferView & { readonly length: number }
  return view instanceof Uint16Array ? view : new Uint16Array(view.buffer, view.byteOffset, view.length)
}

const word = new Float32Array(1)
const bitsOf = new Uint32Array(word.buffer)

/** float32 values as float16 bits, rounded to nearest, ties to even (overflow to ±Infinity, NaN kept). */
export const toFloat16 = (values: Float32Array): Uint16Array => {
  const out = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) {
    word[0] = values[i]!
    const x = bitsOf[0]!
    const sign = (x >>> 16) & 0x8000
    const exponent = ((x >>> 23) & 0xff) - 127 + 15
    let mantissa = x & 0x7fffff
    if (exponent === 0xff - 127 + 15) {
      out[i] = sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200)
      continue
    }
    if (exponent >= 0x1f) {
      out[i] = sign | 0x7c00
      continue
    }
    // Normal: drop 13 mantissa bits; subnormal: shift the implicit 1 in and drop more. A carry may round up into the exponent.
    const shift = exponent > 0 ? 13 : 14 - exponent
    if (shift > 24) {
      out[i] = sign
      continue
    }
    if (exponent <= 0) mantissa |= 0x800000
    let half = (exponent > 0 ? exponent << 10 : 0) | (mantissa >>> shift)
    const rest = mantissa & ((1 << shift) - 1)
    const midway = 1 << (shift - 1)
    if (rest > midway || (rest === midway && (half & 1) === 1)) half++
    out[i] = sign | half
  }
  return out
}
