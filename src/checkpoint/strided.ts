/**
 * Strided layouts: copying a strided view (Fortran-order npy data, a
 * transposed or sliced torch tensor) into fresh C-order bytes, and swapping
 * the byte order of big-endian data. Strides and offsets count elements, as
 * torch and numpy's `strides // itemsize` do.
 *
 * @since 0.1.0
 */
import { numel } from "./Tensor.ts"

/** C-order (row-major) strides of a shape, in elements. */
export const contiguousStrides = (shape: ReadonlyArray<number>): Array<number> => {
  const strides = new Array<number>(shape.length)
  let step = 1
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = step
    step *= shape[d]!
  }
  return strides
}

/** Fortran-order (column-major) strides of a shape, in elements. */
export const fortranStrides = (shape: ReadonlyArray<number>): Array<number> => {
  const strides = new Array<number>(shape.length)
  let step = 1
  for (let d = 0; d < shape.length; d++) {
    strides[d] = step
    step *= shape[d]!
  }
  return strides
}

/** True when a view with these strides is laid out in C order (dimensions of size 1 may have any stride). */
export const isContiguous = (shape: ReadonlyArray<number>, strides: ReadonlyArray<number>): boolean => {
  if (numel(shape) === 0) return true
  const expected = contiguousStrides(shape)
  return shape.every((size, d) => size === 1 || strides[d] === expected[d])
}

/**
 * The highest element index a view touches plus one (0 for an empty view), so
 * callers can check it against the source length before reading. Strides must
 * be non-negative.
 */
export const extent = (shape: ReadonlyArray<number>, strides: ReadonlyArray<number>, offset: number): number => {
  if (numel(shape) === 0) return 0
  return shape.reduce((last, size, d) => last + (size - 1) * strides[d]!, offset) + 1
}

/** Copies a strided view of `source` (elements of `elementBytes` bytes) into new C-order bytes. */
export const gather = (
  source: Uint8Array,
  elementBytes: number,
  shape: ReadonlyArray<number>,
  strides: ReadonlyArray<number>,
  offset: number
): Uint8Array => {
  const count = numel(shape)
  const out = new Uint8Array(count * elementBytes)
  if (count === 0) return out
  const rank = shape.length
  const index = new Array<number>(rank).fill(0)
  let at = offset
  for (let i = 0; i < count; i++) {
    const from = at * elementBytes
    out.set(source.subarray(from, from + elementBytes), i * elementBytes)
    // Odometer step: advance the last dimension, carrying into earlier ones.
    for (let d = rank - 1; d >= 0; d--) {
      index[d]!++
      at += strides[d]!
      if (index[d]! < shape[d]!) break
      at -= index[d]! * strides[d]!
      index[d] = 0
    }
  }
  return out
}

/** A copy of `data` with the bytes of every `elementBytes`-wide element reversed. */
export const swapBytes = (data: Uint8Array, elementBytes: number): Uint8Array => {
  const out = new Uint8Array(data.byteLength)
  for (let i = 0; i < data.byteLength; i += elementBytes) {
    for (let b = 0; b < elementBytes; b++) out[i + b] = data[i + elementBytes - 1 - b]!
  }
  return out
}
