/**
 * The InferenceBackend layers: CPU sessions live as long as their scope, and
 * the mock backend refuses sessions with a typed error.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Scope } from "effect"
import { Tensor } from "onnxruntime-node"
import { GraphBuilder } from "../../src/onnx/graph.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"

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
})
