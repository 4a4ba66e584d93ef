/**
 * SessionPool.releaseAll: closes every open session and says how many; the
 * handles stay valid and a later run reopens its model's session, with the
 * same results.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Tensor } from "onnxruntime-node"
import { GraphBuilder } from "../../src/onnx/graph.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"
import * as SessionPool from "../../src/onnx/SessionPool.ts"

const gelu = (name: string) => {
  const g = new GraphBuilder(name)
  g.output(g.gelu(g.input("x", "float32", [2])), "y")
  return g.build()
}

const feeds = { x: new Tensor("float32", Float32Array.of(0, 1), [2]) }

describe("SessionPool", () => {
  it.effect("releaseAll closes every open session; a later run reopens its own", () =>
    Effect.gen(function*() {
      const pool = yield* SessionPool.make(yield* InferenceBackend, { mode: "resident" })
      const a = yield* pool.backend.createSession(gelu("a"), { model: "a" })
      yield* pool.backend.createSession(gelu("b"), { model: "b" })
      const before = (yield* a.run(feeds, ["y"]))["y"]!.data as Float32Array
      assert.deepStrictEqual((yield* pool.stats).open, ["a", "b"])

      assert.strictEqual(yield* pool.releaseAll, 2)
      const released = yield* pool.stats
      assert.deepStrictEqual(released.open, [])
      assert.strictEqual(released.released, 2)
      assert.strictEqual(yield* pool.releaseAll, 0)

      const after = (yield* a.run(feeds, ["y"]))["y"]!.data as Float32Array
      assert.deepStrictEqual(Array.from(after), Array.from(before))
      const reopened = yield* pool.stats
      assert.deepStrictEqual(reopened.open, ["a"])
      assert.strictEqual(reopened.created, 3)
    }).pipe(Effect.scoped, Effect.provide(InferenceBackend.cpu({ intraOpNumThreads: 1 }))))
})
