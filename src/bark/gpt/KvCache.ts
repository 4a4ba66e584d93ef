/**
 * The key/value caches of a batch of sequences, owned by JavaScript: per
 * layer a key and a value buffer `[slots, heads, capacity, headDim]`
 * (float32, or float16 as raw `Uint16Array` bits, as the graph's past inputs
 * say) that are fed to the graph as its past, and the positions each slot
 * has filled. New rows arrive as the graph's `kv_{l}` outputs and are written
 * here ("row-write"), so the cache never travels back out of onnxruntime.
 *
 * The occupied slots are always `0..size-1`, so the first `size` slots are
 * one contiguous `[size, …]` block to feed a batched step, and any one slot
 * is a contiguous `[1, …]` block to feed its prefill alone. Removing a slot
 * moves the last one into its place.
 *
 * Capacity grows in chunks, and slots double: onnxruntime copies the whole
 * capacity into its present buffer on every step, so it should stay close to
 * the longest sequence.
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
  /** Positions filled, per occupied slot. */
  readonly lengths: Array<number> = []
  /** Slots allocated. */
  slots = 0
  capacity = 0
  keys: Array<KvBuffer> = []
  values: Array<KvBuffer> = []

  constructor(layers: number, heads: number, headDim: number, element: KvElement = "float32") {
    this.layers = layers
    this.heads = heads
    this.headDim = headDim
    this.element = element
  }

  /** Occupied slots. */
  get size(): number {
    return this.lengths.length
  }

  /** Values per slot in each buffer. */
  get slotSize(): number {
    return this.heads * this.capacity * this.headDim
  }

  private allocate(size: number): KvBuffer {
    return this.element === "float16" ? new Uint16Array(size) : new Float32Array(size)
  }

  /** Makes room for `slots` slots of `total` positions (capacity rounded up to a chunk), keeping the filled rows. */
  reserve(slots: number, total: number): void {
    const capacity = Math.max(this.capacity, Math.ceil(total / CHUNK) * CHUNK)
    const allocated = slots <= this.slots ? this.slots : Math.max(slots, 2 * this.slots)
    if (capacity === this.capacity && allocated === this.slots) return
    const perSlot = this.heads * capacity * this.headDim
    const grow = (old: KvBuffer) => {
      const next = this.allocate(allocated * perSlot)
      for (let s = 0; s < this.size; s++) {
        const rows = this.lengths[s]! * this.headDim
        for (let h = 0; h < this.heads; h++) {
          const from = (s * this.heads + h) * this.capacity * this.headDim
          next.set(old.subarray(from, from + rows), (s * this.heads + h) * capacity * this.headDim)
        }
      }
      return next
    }
    const empty = () => this.allocate(allocated * perSlot)
    this.keys = this.slots === 0 ? Array.from({ length: this.layers }, empty) : this.keys.map(grow)
    this.values = this.slots === 0 ? Array.from({ length: this.layers }, empty) : this.values.map(grow)
    this.capacity = capacity
    this.slots = allocated
  }

  /** Occupies a new slot (empty) and returns its index. */
  add(): number {
    this.reserve(this.size + 1, 1)
    this.lengths.push(0)
    return this.size - 1
  }

  /**
   * Frees slot `index`: the last slot's rows move into it. Returns the index
   * the moved slot had (now `index`), or undefined when `index` was the last.
   */
  remove(index: number): number | undefined {
    const last = this.size - 1
    if (index !== last) {
      const n = this.slotSize
      for (const buffer of [...this.keys, ...this.values]) buffer.copyWithin(index * n, last * n, last * n + n)
      this.lengths[index] = this.lengths[last]!
    }
    this.lengths.pop()
    return index === last ? undefined : last
  }

  /** Slot `slot` of a buffer, `[1, heads, capacity, headDim]`. */
  slotView(buffer: KvBuffer, slot: number): KvBuffer {
    return buffer.subarray(slot * this.slotSize, (slot + 1) * this.slotSize)
  }

  /** The first `count` slots of a buffer, `[count, heads, capacity, headDim]`. */
  batchView(buffer: KvBuffer, count: number): KvBuffer {
    return buffer.subarray(0, count * this.slotSize)
  }

  /**
   * Writes `count` new rows of layer `l` for `slot` at its current length:
   * `kv` is `[count, 2·heads·headDim]`, each row K | V. The length itself is
   * advanced by the caller once every layer is written.
   */
  write(l: number, kv: KvBuffer, slot: number, count: number): void {
    const width = this.heads * this.headDim
    const keys = this.keys[l]!
    const values = this.values[l]!
    const length = this.lengths[slot]!
    for (let t = 0; t < count; t++) {
      const row = t * 2 * width
      for (let h = 0; h < this.heads; h++) {
        const at = ((slot * this.heads + h) * this.capacity + length + t) * this.headDim
        keys.set(kv.subarray(row + h * this.headDim, row + (h + 1) * this.headDim), at)
        values.set(kv.subarray(row + width + h * this.headDim, row + width + (h + 1) * this.headDim), at)
      }
    }
  }
}
