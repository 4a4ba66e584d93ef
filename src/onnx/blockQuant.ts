/**
 * Block-wise weight quantisation in the formats of onnxruntime's
 * com.microsoft `MatMulNBits` (linear layers) and `GatherBlockQuantized`
 * (embedding tables).
 *
 * The format. A matrix `[rows, cols]` (a PyTorch Linear weight `[out, in]`,
 * or an embedding table `[vocab, dim]`) is cut into blocks of `blockSize`
 * consecutive values along each row (the last block of a row may be short).
 * Each block gets one float32 scale, `max|w| / (2^(bits-1) - 1)` (1 for an
 * all-zero block), and each value the unsigned code
 * `q = clamp(round(w / scale) + 2^(bits-1), 0, 2^bits - 1)`. The zero point
 * is the implicit `2^(bits-1)` (8 for 4 bits, 128 for 8 bits), so no
 * zero-point tensor is stored, and `w ≈ (q - 2^(bits-1)) · scale`.
 *
 * Codes are packed little-end first: 8 bits one per byte; 4 bits two per
 * byte, the even element in the low nibble. `scales` is `[rows, blocks]`.
 * The two ops want the codes laid out differently:
 * - `"blocks"` (MatMulNBits `B`, `[rows, blocks, blockSize·bits/8]`): every
 *   block takes its full size, a short last block padded with zero-point
 *   codes (ignored by the op). Row n is output n: MatMulNBits computes
 *   `Y = A · Wᵀ` for the PyTorch-layout W, so no transpose is needed.
 * - `"rows"` (GatherBlockQuantized `data`, `[rows, cols·bits/8]`): each row's
 *   codes back to back, which needs `cols·bits` to be a multiple of 8.
 *
 * Rounding to nearest is plain absmax rounding, the scheme ort-notes.md §2
 * measured; `dequantize` gives the exact values the ops compute with, which
 * is what the exactness tests compare against.
 *
 * @since 0.3.0
 */

/** Bits per code and values per block. */
export interface BlockScheme {
  readonly bits: 4 | 8
  readonly blockSize: number
}

export type CodeLayout = "blocks" | "rows"

/** A matrix quantised per `scheme`, its codes packed per `layout`. */
export interface QuantizedMatrix {
  readonly rows: number
  readonly cols: number
  readonly scheme: BlockScheme
  readonly layout: CodeLayout
  readonly codes: Uint8Array
  /** `[rows, blocksPerRow]`. */
  readonly scales: Float32Array
}

export const blocksPerRow = (cols: number, scheme: BlockScheme): number => Math.ceil(cols / scheme.blockSize)

/** Whether rows of `cols` values pack into whole bytes (the `"rows"` layout needs it). */
export const packsInRows = (cols: number, scheme: BlockScheme): boolean => (cols * scheme.bits) % 8 === 0

/**
 * The bit at which the codes of block `b` of row `r` start; value `j` of the
 * block is `bits` wide at `first + j·bits` (for 4 bits: byte `bit >> 3`, the
 * low nibble when `bit & 7` is 0).
 */
const firstBit = (layout: CodeLayout, cols: number, scheme: BlockScheme, r: number, b: number): number =>
  (layout === "rows" ? r * cols + b * scheme.blockSize : (r * blocksPerRow(cols, scheme) + b) * scheme.blockSize) * scheme.bits

/** Quantises the row-major `matrix` `[rows, cols]`. */
export const quantize = (
  matrix: Float32Array,
  rows: number,
  cols: number,
  scheme: BlockScheme,
  layout: CodeLayout
): QuantizedMatrix => {
  if (matrix.length !== rows * cols) throw new RangeError(`quantize: ${matrix.length} values for a [${rows}, ${cols}] matrix`)
  if (layout === "rows" && !packsInRows(cols, scheme)) {
    throw new RangeError(`quantize: rows of ${cols} ${scheme.bits}-bit codes do not fill whole bytes`)
  }
  const { bits, blockSize } = scheme
  const zero = 1 << (bits - 1)
  const top = (1 << bits) - 1
  const blocks = blocksPerRow(cols, scheme)
  const codes = new Uint8Array(layout === "rows" ? rows * cols * bits / 8 : rows * blocks * blockSize * bits / 8)
  if (layout === "blocks") codes.fill(bits === 8 ? zero : zero | (zero << 4))
  const scales = new Float32Array(rows * blocks)
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const start = r * cols + b * blockSize
      const end = r * cols + Math.min(cols, (b + 1) * blockSize)
      let amax = 0
      for (let i = start; i < end; i++) amax = Math.max(amax, Math.abs(matrix[i]!))
      const scale = Math.fround(amax / (zero - 1)) || 1
      scales[r * blocks + b] = scale
      for (let i = start, bit = firstBit(layout, cols, scheme, r, b); i < end; i++, bit += bits) {
        const q = Math.min(top, Math.max(0, Math.round(matrix[i]! / scale) + zero))
        const at = bit >> 3
        const shift = bit & 7
        codes[at] = bits === 8 ? q : (codes[at]! & (0xf0 >> shift)) | (q << shift)
      }
    }
  }
  return { rows, cols, scheme, layout, codes, scales }
}

/** The values the ops compute with: `(q - zero) · scale` rounded to float32 (by the array), `[rows, cols]`. */
export const dequantize = (q: QuantizedMatrix): Float32Array => {
  const { bits, blockSize } = q.scheme
  const zero = 1 << (bits - 1)
  const mask = (1 << bits) - 1
  const blocks = blocksPerRow(q.cols, q.scheme)
  const out = new Float32Array(q.rows * q.cols)
  for (let r = 0; r < q.rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const scale = q.scales[r * blocks + b]!
      const end = r * q.cols + Math.min(q.cols, (b + 1) * blockSize)
      for (let i = r * q.cols + b * blockSize, bit = firstBit(q.layout, q.cols, q.scheme, r, b); i < end; i++, bit += bits) {
        out[i] = (((q.codes[bit >> 3]! >> (bit & 7)) & mask) - zero) * scale
      }
    }
  }
  return out
}
