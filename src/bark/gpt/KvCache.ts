/**
 * The key/value cache of one sequence, owned by JavaScript: per layer a key
 * and a value buffer `[1, heads, capacity, headDim]` (float32, or float16 as
 * raw `Uint16Array` bits, as the graph's past inputs say) that are fed to
 * the graph as its past, plus the number of positions filled. New rows arrive
 * as the graph's `kv_{l}` outputs and are written here ("row-write"), so the
 * cache never travels back out of onnxruntime.
 *
 * The capacity grows in chunks: onnxruntime copies the whole capacity into
 * its present buffer on every step, so it should stay close to the length.
 *
 * @since 0.1.0
 */

const CHUNK = 128

export type KvElement = "float32" | "float16"
export type KvBuffer = Float32Array | Uint16Array

export class KvCache {
  readonly layers: number
  readonly heads: number
  readonly headDim: number
  readonly element: KvElement
  /** Positions filled. */
  length = 0
  capacity = 0
  keys: Array<KvBuffer> = []
  values: Array<KvBuffer> = []

  constructor(layers: number, heads: number, headDim: number, element: KvElement = "float32") {
    this.layers = layers
    this.heads = heads
    this.headDim = headDim
    this.element = element
  }

  private allocate(size: number): KvBuffer {
    return this.element === "float16" ? new Uint16Array(size) : new Float32Array(size)
  }

  /** Makes room for `total` positions (rounded up to a chunk), keeping the filled rows. */
  reserve(total: number): void {
    if (total <= this.capacity) return
    const capacity = Math.ceil(total / CHUNK) * CHUNK
    const grow = (old: KvBuffer) => {
      const next = this.allocate(this.heads * capacity * this.headDim)
      const rows = this.length * this.headDim
      for (let h = 0; h < this.heads; h++) {
        next.set(old.subarray(h * this.capacity * this.headDim, h * this.capacity * this.headDim + rows), h * capacity * this.headDim)
      }
      return next
    }
    const empty = () => this.allocate(this.heads * capacity * this.headDim)
    this.keys = this.capacity === 0 ? Array.from({ length: this.layers }, empty) : this.keys.map(grow)
    this.values = this.capacity === 0 ? Array.from({ length: this.layers }, empty) : this.values.map(grow)
    this.capacity = capacity
  }

  /** Writes the new rows of layer `l`: `kv` is `[count, 2·heads·headDim]`, each row K | V, starting at position `length`. */
  write(l: number, kv: KvBuffer, count: number): void {
    const width = this.heads * this.headDim
    const keys = this.keys[l]!
    const values = this.values[l]!
    for (let t = 0; t < count; t++) {
      const row = t * 2 * width
      for (let h = 0; h < this.heads; h++) {
        const at = (h * this.capacity + this.length + t) * this.headDim
        keys.set(kv.subarray(row + h * this.headDim, row + (h + 1) * this.headDim), at)
        values.set(kv.subarray(row + width + h * this.headDim, row + width + (h + 1) * this.headDim), at)
      }
    }
  }
}
