/**
 * float16 as raw bits: conversion from float32 against the runtime's own
 * `Math.f16round` (Node ≥ 24), and float16 tensors through onnxruntime-node.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { halfToFloat } from "../../src/checkpoint/Tensor.ts"
import { float16Bits, float16Tensor, toFloat16 } from "../../src/onnx/float16.ts"
import { GraphBuilder } from "../../src/onnx/graph.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"

const f16round = (Math as unknown as { f16round?: (x: number) => number }).f16round

describe("toFloat16", () => {
  it("rounds to nearest even, with subnormals, overflow, infinities and NaN", () => {
    const cases: Array<[number, number]> = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [-Infinity, 0xfc00], [2 ** -24, 0x0001], [2 ** -26, 0],
      [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02] // the two ties: to the even neighbour
    ]
    for (const [value, bits] of cases) assert.strictEqual(toFloat16(Float32Array.of(value))[0], bits, String(value))
    assert.isTrue(Number.isNaN(halfToFloat(toFloat16(Float32Array.of(NaN))[0]!)))
  })

  it.skipIf(f16round === undefined)("agrees with Math.f16round on 200 000 random float32 bit patterns", () => {
    const bits = Uint32Array.from({ length: 200_000 }, (_, i) => (Math.imul(i, 2654435761) ^ (i << 7)) >>> 0)
    const values = new Float32Array(bits.buffer)
    const halves = toFloat16(values)
    for (let i = 0; i < values.length; i++) {
      const expected = f16round!(values[i]!)
      const got = halfToFloat(halves[i]!)
      if (!(Object.is(got, expected) || (Number.isNaN(got) && Number.isNaN(expected)))) assert.fail(`${values[i]}: ${got}, expected ${expected}`)
    }
  })
})

describe("float16 tensors", () => {
  it.effect("go into onnxruntime as bits and come back as bits", () =>
    Effect.gen(function*() {
      const g = new GraphBuilder("half")
      const x = g.input("x", "float16", [4])
      g.output(g.add(x, x), "y")
      const backend = yield* InferenceBackend
      const session = yield* backend.createSession(g.build(), { model: "half" })
      const bits = toFloat16(Float32Array.of(1, -2.5, 0.125, 1000))
      const out = yield* session.run({ x: float16Tensor(bits, [4]) }, ["y"])
      assert.deepStrictEqual(Array.from(float16Bits(out["y"]!.data), halfToFloat), [2, -5, 0.25, 2000])
    }).pipe(Effect.scoped, Effect.provide(InferenceBackend.cpu({ intraOpNumThreads: 1 }))))
})
