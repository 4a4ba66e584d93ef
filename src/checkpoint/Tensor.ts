/**
 * A named array of numbers as stored in a checkpoint: its storage dtype, its
 * shape and its raw little-endian bytes (C order). Loaders return views into
 * the file's bytes where they can; `toFloat32` and `toInt32` widen on demand.
 *
 * @since 0.1.0
 */

/** Storage dtypes, named as safetensors names them. */
export type DType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U16" | "U8" | "BOOL"

export interface Tensor {
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  /** Raw little-endian bytes in C (row-major) order; length = numel × bytesPerElement(dtype). */
  readonly data: Uint8Array
}

/** Tensors by name, as a checkpoint holds them. */
export type Weights = ReadonlyMap<string, Tensor>

export const bytesPerElement = (dtype: DType): number => {
  switch (dtype) {
    case "F64":
    case "I64":
      return 8
    case "F32":
    case "I32":
      return 4
    case "F16":
    case "BF16":
    case "I16":
    case "U16":
      return 2
    case "I8":
    case "U8":
    case "BOOL":
      return 1
  }
}

export const numel = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

export const make = (dtype: DType, shape: ReadonlyArray<number>, data: Uint8Array): Tensor => {
  const expected = numel(shape) * bytesPerElement(dtype)
  if (data.byteLength !== expected) {
    throw new RangeError(`tensor of ${dtype}${JSON.stringify(shape)} needs ${expected} bytes, got ${data.byteLength}`)
  }
  return { dtype, shape, data }
}

export const fromFloat32 = (shape: ReadonlyArray<number>, values: Float32Array): Tensor =>
  make("F32", shape, new Uint8Array(values.buffer, values.byteOffset, values.byteLength))

export const fromInt64 = (shape: ReadonlyArray<number>, values: BigInt64Array): Tensor =>
  make("I64", shape, new Uint8Array(values.buffer, values.byteOffset, values.byteLength))

const view = (t: Tensor): DataView => new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength)

/** IEEE half → float, exact. */
export const halfToFloat = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN
  return sign * (1 + frac / 1024) * 2 ** (exp - 15)
}

/** The values as float32 (F16/BF16 upcast exactly, integers converted). Copies unless already aligned F32. */
export const toFloat32 = (t: Tensor): Float32Array => {
  const n = numel(t.shape)
  if (t.dtype === "F32" && t.data.byteOffset % 4 === 0) {
    return new Float32Array(t.data.buffer, t.data.byteOffset, n)
  }
  const out = new Float32Array(n)
  const dv = view(t)
  switch (t.dtype) {
    case "F32":
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true)
      break
    case "F16":
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true))
      break
    case "BF16": {
      const scratch = new DataView(new ArrayBuffer(4))
      for (let i = 0; i < n; i++) {
        scratch.setUint32(0, dv.getUint16(i * 2, true) << 16, true)
        out[i] = scratch.getFloat32(0, true)
      }
      break
    }
    default: {
      const ints = toNumbers(t)
      for (let i = 0; i < n; i++) out[i] = ints[i]!
    }
  }
  return out
}

/** The values as JavaScript numbers (int64 must fit in ±2^53). */
export const toNumbers = (t: Tensor): Array<number> => {
  const n = numel(t.shape)
  const dv = view(t)
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case "F64": out[i] = dv.getFloat64(i * 8, true); break
      case "F32": out[i] = dv.getFloat32(i * 4, true); break
      case "F16": out[i] = halfToFloat(dv.getUint16(i * 2, true)); break
      case "BF16": out[i] = new Float32Array(new Uint32Array([dv.getUint16(i * 2, true) << 16]).buffer)[0]!; break
      case "I64": out[i] = Number(dv.getBigInt64(i * 8, true)); break
      case "I32": out[i] = dv.getInt32(i * 4, true); break
      case "I16": out[i] = dv.getInt16(i * 2, true); break
      case "U16": out[i] = dv.getUint16(i * 2, true); break
      case "I8": out[i] = dv.getInt8(i); break
      case "U8":
      case "BOOL": out[i] = dv.getUint8(i); break
    }
  }
  return out
}

/** The values as int32 (for token and code arrays). */
export const toInt32 = (t: Tensor): Int32Array => Int32Array.from(toNumbers(t))
