/**
 * Buffers joined into one: bytes, or float32 samples and tensor data.
 *
 * @since 0.3.0
 */

/** `parts` back to back in one new array made by `make`. */
const concat = <A extends Uint8Array | Float32Array>(parts: ReadonlyArray<A>, make: (length: number) => A): A => {
  const out = make(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** `parts` back to back in one new buffer. */
export const concatBytes = (parts: ReadonlyArray<Uint8Array>): Uint8Array => concat(parts, (n) => new Uint8Array(n))

/** The arrays one after the other, in one new array. */
export const concatFloat32 = (parts: ReadonlyArray<Float32Array>): Float32Array => concat(parts, (n) => new Float32Array(n))
