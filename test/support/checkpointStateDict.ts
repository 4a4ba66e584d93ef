/**
 * Checkpoints with many tensors for the reader tests: the pickle of a torch
 * state dict of any tensors (storage key, offset, size and stride each), a
 * torch zip checkpoint of F32 tensors filled with one value each, and a
 * safetensors file of such tensors written tensor by tensor, so that a
 * checkpoint of hundreds of megabytes costs the test one tensor of memory.
 *
 * @since 0.2.0
 */
import { closeSync, openSync, writeSync } from "node:fs"
import { encodeHeader } from "../../src/checkpoint/safetensors.ts"
import { op, pickle, str, type TensorSpec, tensorValue } from "./checkpointPickle.ts"
import { makeZip, type ZipInput } from "./checkpointZip.ts"

export interface NamedTensorSpec extends TensorSpec {
  readonly name: string
}

/** The pickle of `{name: tensor, ...}` (protocol 2), in the order given. */
export const stateDictPickle = (tensors: ReadonlyArray<NamedTensorSpec>): Uint8Array =>
  pickle(op.PROTO2, op.EMPTY_DICT, tensors.map((t) => [str(t.name), tensorValue(t), op.SETITEM]), op.STOP)

/** `count` float32 values, all `value`, as bytes. */
export const filledF32 = (count: number, value: number): Uint8Array => new Uint8Array(new Float32Array(count).fill(value).buffer)

/** The name of the i-th filled tensor; tensor i holds the value i. */
export const filledName = (i: number): string => `layer.${String(i).padStart(3, "0")}.weight`

/**
 * A torch zip checkpoint (`archive/...`) of `count` F32 tensors of `elements`
 * values each, tensor i in its own storage and filled with i; the storages
 * whose index is in `deflated` are deflated. Options pass through to `makeZip`.
 */
export const filledTorchZip = (
  count: number,
  elements: number,
  options: { readonly deflated?: ReadonlySet<number>; readonly zip64?: boolean } = {}
): Uint8Array => {
  const specs = Array.from({ length: count }, (_, i) => ({ name: filledName(i), key: String(i), numel: elements, size: [elements], stride: [1] }))
  const storages: Array<ZipInput> = specs.map((spec, i) => ({
    name: `archive/data/${spec.key}`,
    data: filledF32(elements, i),
    method: options.deflated?.has(i) ? "deflate" : "stored"
  }))
  return makeZip([{ name: "archive/data.pkl", data: stateDictPickle(specs) }, ...storages], { zip64: options.zip64 ?? false })
}

/**
 * Writes a safetensors file of `count` F32 tensors of `elements` values each,
 * tensor i filled with i: the header from the project's encoder, then the data
 * one tensor at a time. Returns the file size.
 */
export const writeFilledSafetensors = (path: string, count: number, elements: number): number => {
  const layouts = new Map(Array.from({ length: count }, (_, i) => [filledName(i), { dtype: "F32" as const, shape: [elements] }]))
  const { header, order, dataBytes } = encodeHeader(layouts)
  const fd = openSync(path, "w")
  try {
    writeSync(fd, header)
    const values = new Float32Array(elements)
    const bytes = new Uint8Array(values.buffer)
    for (const name of order) {
      values.fill(Number(name.split(".")[1]))
      for (let at = 0; at < bytes.byteLength;) at += writeSync(fd, bytes, at)
    }
  } finally {
    closeSync(fd)
  }
  return header.byteLength + dataBytes
}
