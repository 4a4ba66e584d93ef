/**
 * SessionPool: resident keeps every session open; offload keeps one, reopens
 * a model's session from its source when it runs again, with the same
 * results, and releases everything with the scope.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
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
const y = (out: Readonly<Record<string, Tensor>>) => Array.from(out["y"]!.data as Float32Array)

describe("SessionPool", () => {
  it.effect("resident: every session stays open", () =>
    Effect.gen(function*() {
      const pool = yield* SessionPool.make(yield* InferenceBackend, { mode: "resident" })
      const a = yield* pool.backend.createSession(gelu("a"), { model: "a" })
      const b = yield* pool.backend.createSession(gelu("b"), { model: "b" })
      yield* a.run(feeds, ["y"])
      yield* b.run(feeds, ["y"])
      assert.deepStrictEqual(yield* pool.stats, { created: 2, released: 0, open: ["a", "b"] })
    }).pipe(Effect.scoped, Effect.provide(InferenceBackend.cpu({ intraOpNumThreads: 1 }))))

  it.effect("offload: one session at a time, reopened from its source with the same results; all released with the scope", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* SessionPool.make(yield* InferenceBackend, { mode: "offload" }).pipe(Scope.provide(scope))
      const a = yield* pool.backend.createSession(gelu("a"), { model: "a" }).pipe(Scope.provide(scope))
      const b = yield* pool.backend.createSession(gelu("b"), { model: "b" }).pipe(Scope.provide(scope))
      assert.deepStrictEqual((yield* pool.stats).open, ["b"])
      const first = y(yield* a.run(feeds, ["y"]))
      assert.deepStrictEqual((yield* pool.stats).open, ["a"])
      yield* b.run(feeds, ["y"])
      assert.deepStrictEqual(y(yield* a.run(feeds, ["y"])), first)
      assert.deepStrictEqual(yield* pool.stats, { created: 5, released: 4, open: ["a"] })
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual((yield* pool.stats).open, [])
      const gone = yield* Effect.flip(a.run(feeds, ["y"]))
      assert.include(gone.message, "released with the scope")
    }).pipe(Effect.scoped, Effect.provide(InferenceBackend.cpu({ intraOpNumThreads: 1 }))))
})
