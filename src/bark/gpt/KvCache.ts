/**
 * The key/value caches of a batch of sequences, owned by JavaScript and read
 * in place by the causal graph (./graph.ts): per layer a key buffer
 * `[slots, heads, headDim, capacity]` (transposed, so the graph's scores are
 * a plain MatMul) and a value buffer `[slots, heads, capacity, headDim]`,
 * float32, and the positions each slot has filled. New rows arrive as the
 * graph's `kv_{l}` outputs and are written here, so the cache never travels
 * back out of onnxruntime.
 *
 * The occupied slots are always `0..size-1`, so the first `size` slots are
 * one contiguous `[size, …]` block to feed a batched step (a prefill feeds
 * an empty past). Removing a slot moves the last one into its place.
 *
 * Capacity grows in chunks, and slots double: the graph reads every
 * position up to the capacity on each step, so it should stay close to the
 * longest sequence.
 *
 * @since 0.1.0
 */

const CHUNK = 64

export class KvCache {
  readonly layers: number
  readonly heads: number
  readonly headDim: number
  /** Positions filled, per occupied slot. */
  readonly lengths: Array<number> = []
  /** Slots allocated. */
  slots = 0
  capacity = 0
  keys: Array<Float32Array> = []
  values: Array<Float32Array> = []

  constructor(layers: number, heads: number, headDim: number) {
    this.layers = layers
    this.heads = heads
    this.headDim = headDim
  }

  /** Occupied slots. */
  get size(): number {
    return this.lengths.length
  }

  /** Values per slot in each buffer. */
  get slotSize(): number {
    return this.heads * this.capacity * this.headDim
  }

  /** Makes room for `slots` slots of `total` positions (capacity rounded up to a chunk), keeping the filled rows. */
  reserve(slots: number, total: number): void {
    const capacity = Math.max(this.capacity, Math.ceil(total / CHUNK) * CHUNK)
    const allocated = slots <= this.slots ? this.slots : Math.max(slots, 2 * this.slots)
    if (capacity === this.capacity && allocated === this.slots) return
    const size = allocated * this.heads * capacity * this.headDim
    // Keys: one run of `length` values per (slot, head, dim); values: one run of `length · headDim` per (slot, head).
    const grow = (old: Float32Array, runsPerSlot: number, runLength: (slot: number) => number) => {
      const next = new Float32Array(size)
      const oldStride = this.slotSize / runsPerSlot
      const newStride = size / allocated / runsPerSlot
      for (let s = 0; s < this.size; s++) {
        const n = runLength(s)
        for (let r = s * runsPerSlot; r < (s + 1) * runsPerSlot; r++) {
          next.set(old.subarray(r * oldStride, r * oldStride + n), r * newStride)
        }
      }
      return next
    }
    const fresh = () => Array.from({ length: this.layers }, () => new Float32Array(size))
    this.keys = this.slots === 0 ? fresh() : this.keys.map((k) => grow(k, this.heads * this.headDim, (s) => this.lengths[s]!))
    this.values = this.slots === 0 ? fresh() : this.values.map((v) => grow(v, this.heads, (s) => this.lengths[s]! * this.headDim))
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

  /**
   * Writes `count` new positions of layer `l` for `slot` at its current
   * length: `kv` is `[count, 2·heads·headDim]`, each row K | V. The length
   * itself is advanced by the caller once every layer is written.
   */
  write(l: number, kv: Float32Array, slot: number, count: number): void {
    const { capacity, headDim, heads } = this
    const width = heads * headDim
    const keys = this.keys[l]!
    const values = this.values[l]!
    const at = this.lengths[slot]!
    for (let t = 0; t < count; t++) {
      const row = t * 2 * width
      for (let h = 0; h < heads; h++) {
        const head = slot * heads + h
        const key = row + h * headDim
        for (let d = 0; d < headDim; d++) keys[(head * headDim + d) * capacity + at + t] = kv[key + d]!
        values.set(kv.subarray(row + width + h * headDim, row + width + (h + 1) * headDim), (head * capacity + at + t) * headDim)
      }
    }
  }
}
