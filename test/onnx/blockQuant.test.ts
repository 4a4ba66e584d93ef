/**
 * The block-quantised weight format (src/onnx/blockQuant.ts): codes and
 * scales of known matrices, both code layouts, and onnxruntime's MatMulNBits
 * and GatherBlockQuantized computing exactly with the dequantised values.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type BlockScheme, dequantize, packsInRows, quantize } from "../../src/onnx/blockQuant.ts"
import { GraphBuilder } from "../../src/onnx/graph.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"
import { Tensor } from "onnxruntime-node"

/** Deterministic values in [-1, 1). */
const values = (n: number, seed: number) => {
  let s = seed
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31
    return s / 2 ** 30 - 1
  })
}

const q4: BlockScheme = { bits: 4, blockSize: 32 }
const q8: BlockScheme = { bits: 8, blockSize: 32 }

describe("block quantisation", () => {
  it("codes a known row: absmax scale, zero point 8, even element in the low nibble", () => {
    const q = quantize(Float32Array.of(1, -1, 0.25, 0), 1, 4, { bits: 4, blockSize: 4 }, "rows")
    assert.strictEqual(q.scales[0], Math.fround(1 / 7))
    // 1 → 7+8 = 15, -1 → -7+8 = 1, 0.25 → round(1.75)+8 = 10, 0 → 8
    assert.deepStrictEqual([...q.codes], [15 | (1 << 4), 10 | (8 << 4)])
    assert.deepStrictEqual([...dequantize(q)], [7, -7, 2, 0].map((c) => Math.fround(c * Math.fround(1 / 7))))
  })

  it("codes 8 bits one per byte around 128, and gives an all-zero block scale 1", () => {
    const q = quantize(Float32Array.of(0, 0, 2, -1), 2, 2, { bits: 8, blockSize: 2 }, "blocks")
    assert.deepStrictEqual([...q.scales], [1, Math.fround(2 / 127)])
    assert.deepStrictEqual([...q.codes], [128, 128, 255, 128 - 64])
  })

  for (const scheme of [q4, q8]) {
    it(`${scheme.bits}-bit: every value within half a step of the original, in both layouts, with a short last block`, () => {
      const rows = 5
      const cols = 40 // one full block and one of 8
      const w = values(rows * cols, 3)
      const blocks = quantize(w, rows, cols, scheme, "blocks")
      const packed = quantize(w, rows, cols, scheme, "rows")
      assert.strictEqual(blocks.codes.length, rows * 2 * 32 * scheme.bits / 8, "blocks are padded to full size")
      assert.strictEqual(packed.codes.length, rows * cols * scheme.bits / 8)
      const a = dequantize(blocks)
      assert.deepStrictEqual([...a], [...dequantize(packed)], "the layout changes where codes are, not what they are")
      for (let i = 0; i < w.length; i++) {
        const step = blocks.scales[Math.floor(i / cols) * 2 + Math.floor((i % cols) / 32)]!
        assert.isAtMost(Math.abs(a[i]! - w[i]!), step / 2 + 1e-7, `value ${i}`)
      }
    })
  }

  it("refuses the rows layout when a row ends inside a byte", () => {
    assert.isFalse(packsInRows(7, q4))
    assert.isTrue(packsInRows(7, q8))
    assert.throws(() => quantize(values(14, 1), 2, 7, q4, "rows"), /whole bytes/)
  })
})

describe("onnxruntime on the format", () => {
  const run = (g: GraphBuilder, feeds: Record<string, Tensor>) =>
    Effect.gen(function*() {
      const backend = yield* InferenceBackend
      const session = yield* backend.createSession(g.build(), { model: "quantized-op" })
      return (yield* session.run(feeds, ["y"]))["y"]!.data as Float32Array
    }).pipe(Effect.scoped, Effect.provide(InferenceBackend.cpu({ intraOpNumThreads: 1 })))

  for (const scheme of [q4, q8]) {
    it.effect(`MatMulNBits (${scheme.bits} bits, accuracy level 0) computes x · Wᵀ of the dequantised weight, K not a block multiple`, () =>
      Effect.gen(function*() {
        const [n, k, m] = [24, 40, 3]
        const w = quantize(values(n * k, 5), n, k, scheme, "blocks")
        const x = values(m * k, 9)
        const g = new GraphBuilder("mm")
        g.output(g.matmulNBits(g.input("x", "float32", [m, k]), "w", w, 0), "y")
        const y = yield* run(g, { x: new Tensor("float32", x, [m, k]) })
        const ref = dequantize(w)
        for (let r = 0; r < m; r++) {
          for (let c = 0; c < n; c++) {
            let acc = 0
            for (let i = 0; i < k; i++) acc += x[r * k + i]! * ref[c * k + i]!
            assert.approximately(y[r * n + c]!, acc, 1e-5, `y[${r}, ${c}]`)
          }
        }
      }))

    it.effect(`GatherBlockQuantized (${scheme.bits} bits) returns the dequantised rows, width not a block multiple`, () =>
      Effect.gen(function*() {
        const [rows, width] = [50, 20]
        const table = quantize(values(rows * width, 7), rows, width, scheme, "rows")
        const g = new GraphBuilder("gather")
        g.output(g.gatherBlockQuantized("t", table, g.input("ids", "int64", [3])), "y")
        const y = yield* run(g, { ids: new Tensor("int64", BigInt64Array.of(0n, 49n, 7n), [3]) })
        const ref = dequantize(table)
        const expected = [0, 49, 7].flatMap((r) => [...ref.subarray(r * width, (r + 1) * width)])
        assert.deepStrictEqual([...y], expected)
      }))
  }
})
