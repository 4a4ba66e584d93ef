/**
 * float16 tensors as raw bits (`Uint16Array`) across onnxruntime-node.
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
