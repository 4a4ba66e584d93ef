/**
 * A matrix of EnCodec codes, one row per codebook: what the coarse and fine
 * stages return, what the codec decodes and what a voice prompt holds.
 *
 * @since 0.1.0
 */

export interface Codes {
  /** Number of codebooks. */
  readonly rows: number
  /** Number of frames (75 per second). */
  readonly frames: number
  /** `rows × frames`, row-major (codebook-major). */
  readonly data: Int32Array
}

export const makeCodes = (rows: number, frames: number, data: Int32Array = new Int32Array(rows * frames)): Codes => {
  if (data.length !== rows * frames) {
    throw new RangeError(`codes of ${rows}×${frames} need ${rows * frames} values, got ${data.length}`)
  }
  return { rows, frames, data }
}

/** Row `r` (one codebook) as a view. */
export const codesRow = (codes: Codes, r: number): Int32Array => codes.data.subarray(r * codes.frames, (r + 1) * codes.frames)
