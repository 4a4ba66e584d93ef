/**
 * The InferenceBackend layers: CPU sessions live as long as their scope, and
 * the mock backend refuses sessions with a typed error; the default thread
 * count is one per core.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Scope } from "effect"
import { availableParallelism } from "node:os"
import { Tensor } from "onnxruntime-node"
import { GraphBuilder } from "../../src/onnx/graph.ts"
import { coreCount, InferenceBackend, threadsPerCore } from "../../src/onnx/InferenceBackend.ts"

const identity = () => {
  const g = new GraphBuilder("identity")
  g.output(g.gelu(g.input("x", "float32", [2])), "y")
  return g.build()
}

describe("InferenceBackend", () => {
  it.effect("Cpu: runs a session, which is released when its scope closes", () =>
    Effect.gen(function*() {
      const backend = yield* InferenceBackend
      assert.strictEqual(backend.name, "cpu")
      assert.deepStrictEqual(backend.providers, ["cpu"])
      const scope = yield* Scope.make()
      const session = yield* backend.createSession(identity(), { model: "identity" }).pipe(Scope.provide(scope))
      const feeds = { x: new Tensor("float32", Float32Array.of(0, 1), [2]) }
      const y = (yield* session.run(feeds, ["y"]))["y"]!.data as Float32Array
      assert.closeTo(y[1]!, 0.8413447, 1e-6)
      yield* Scope.close(scope, Exit.void)
      const after = yield* Effect.flip(session.run(feeds, ["y"]))
      assert.strictEqual(after._tag, "InferenceError")
    }).pipe(
      Effect.provide(InferenceBackend.Cpu),
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { BARK_INTRA_OP_THREADS: "1" } })))
    ))

  it.effect("invalid model bytes fail with a typed error", () =>
    Effect.gen(function*() {
      const backend = yield* InferenceBackend
      const error = yield* Effect.flip(backend.createSession({ model: Uint8Array.of(1, 2, 3), externalData: [] }, { model: "junk" }))
      assert.strictEqual(error.model, "junk")
      assert.include(error.message, "could not create")
    }).pipe(Effect.provide(InferenceBackend.cpu())))

  it.effect("Mock: no sessions, a typed error that says what to use instead", () =>
    Effect.gen(function*() {
      const backend = yield* InferenceBackend
      assert.strictEqual(backend.name, "mock")
      const error = yield* Effect.flip(backend.createSession(identity(), { model: "semantic" }))
      assert.strictEqual(error._tag, "InferenceError")
      assert.include(error.remediation, "InferenceBackend.Cpu")
    }).pipe(Effect.provide(InferenceBackend.Mock)))

  it("counts SMT siblings once for the default thread count", () => {
    const block = (siblings: number, cores: number) => `processor\t: 0\nphysical id\t: 0\nsiblings\t: ${siblings}\ncore id\t\t: 0\ncpu cores\t: ${cores}\n`
    assert.strictEqual(threadsPerCore(block(16, 8)), 2)
    assert.strictEqual(threadsPerCore(block(2, 2)), 1)
    assert.strictEqual(threadsPerCore("processor : 0\n"), 1, "no topology fields: every logical CPU is a core")
    const cores = coreCount()
    assert.isAtLeast(cores, 1)
    assert.isAtMost(cores, availableParallelism())
  })
})
