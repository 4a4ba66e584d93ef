/**
 * Stages and layers convert into each other: a stage's service can be
 * provided to code outside a pipeline, and a layer (a mock, a fake codec)
 * can stand in a recipe as a stage, recorded like any other.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, Layer, Logger, Schema, Scope } from "effect"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"
import * as Stage from "../../src/pipeline/Stage.ts"
import { Alpha, Beta, Gamma, makeStages } from "./fixtures.ts"

class CodecMissing extends Schema.TaggedError<CodecMissing>()("CodecMissing", {
  message: Schema.String,
  remediation: Schema.String
}) {}

/** Collects what is logged, as "LEVEL message". */
const captureLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.layer([Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })])
  return { lines, layer }
}

describe("Stage.toLayer", () => {
  it.effect("a stage as a layer gives its service to an effect, its needs provided by other stages' layers", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const layer = Stage.toLayer(s.beta).pipe(Layer.provide(Stage.toLayer(s.alpha)))
      const beta = yield* Effect.provide(Beta, layer)
      assert.strictEqual(beta.value, 2)
      assert.deepStrictEqual(s.built, ["alpha", "beta"])
    }))

  it.effect("the skip rule applies: when it gives a reason, the layer provides the skip value without building", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const layer = Stage.toLayer(s.gamma).pipe(Layer.provide(Layer.succeed(Beta, { value: 2 })))
      const skipped = yield* Effect.provide(Gamma, layer).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: { TEST_SKIP_GAMMA: "true" } }))
      )
      assert.strictEqual(skipped.value, "skipped")
      assert.deepStrictEqual(s.built, [])
      const built = yield* Effect.provide(Gamma, layer).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} }))
      )
      assert.strictEqual(built.value, "beta=2")
    }))

  it.effect("warnings go to the log, and the build's failure is the layer's", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const logs = captureLogs()
      const beta = yield* Effect.provide(Beta, Stage.toLayer(s.warningBeta)).pipe(Effect.provide(logs.layer))
      assert.strictEqual(beta.value, 0)
      assert.deepStrictEqual(logs.lines, ["Warn beta is degraded (install the fast path)"])
      const error = yield* Effect.flip(Effect.provide(Beta, Stage.toLayer(s.failingBeta)))
      assert.strictEqual(error._tag, "StageFatal")
      assert.strictEqual(error.message, "beta broke")
    }))
})

describe("Stage.fromLayer", () => {
  it.effect("a layer as a stage runs in a pipeline and is recorded under the stage's name", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const mock = Stage.fromLayer({ name: "mock-alpha", purpose: "a mocked alpha", provides: Alpha, layer: Layer.succeed(Alpha, { value: 21 }) })
      const ready = yield* Runner.run(Pipeline.make("m", "a mock first").pipe(Pipeline.add(mock), Pipeline.add(s.beta)))
      assert.deepStrictEqual(ready.report.results.map((r) => `${r.stage}:${r.outcome}`), ["mock-alpha:succeeded", "beta:succeeded"])
      assert.strictEqual(Context.get(ready.context, Beta).value, 42)
    }))

  it.effect("a layer's failure is recorded with its own tag, message and remediation", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const broken = Stage.fromLayer({
        name: "codec",
        purpose: "a codec that cannot load",
        provides: Alpha,
        layer: Layer.effect(Alpha, Effect.fail(new CodecMissing({ message: "no codec weights", remediation: "download the codec" })))
      })
      const failed = yield* Effect.flip(Runner.run(Pipeline.make("f", "fails").pipe(Pipeline.add(broken), Pipeline.add(s.beta))))
      assert.deepStrictEqual(failed.report.results.map((r) => `${r.stage}:${r.outcome}`), ["codec:failed", "beta:not-run"])
      assert.deepStrictEqual(failed.report.results[0]!.error, { tag: "CodecMissing", message: "no codec weights", remediation: "download the codec" })
      assert.strictEqual(failed.errorTag, "CodecMissing")
      assert.strictEqual(failed.remediation, "download the codec")
      assert.instanceOf(failed.error, CodecMissing, "the typed error is passed on with the report")
    }))

  it.effect("a layer's resources live until the run's scope closes, then its finalizer runs", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const layer = Layer.effect(
        Alpha,
        Effect.acquireRelease(
          Effect.sync(() => {
            events.push("acquired")
            return { value: 1 }
          }),
          () => Effect.sync(() => void events.push("released"))
        )
      )
      const stage = Stage.fromLayer({ name: "alpha", purpose: "holds a resource", provides: Alpha, layer })
      const scope = yield* Scope.make()
      const ready = yield* Runner.run(Pipeline.make("r", "resource").pipe(Pipeline.add(stage))).pipe(Scope.provide(scope))
      assert.strictEqual(Context.get(ready.context, Alpha).value, 1)
      assert.deepStrictEqual(events, ["acquired"], "still held after the run returned")
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(events, ["acquired", "released"])
    }))

  it.effect("round trip: a stage as a layer as a stage provides the same service and keeps the stage's failures", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const alpha = Stage.fromLayer({ name: "alpha", purpose: s.alpha.purpose, provides: Alpha, layer: Stage.toLayer(s.alpha) })
      const ready = yield* Runner.run(Pipeline.make("rt", "round trip").pipe(Pipeline.add(alpha), Pipeline.add(s.beta)))
      assert.strictEqual(Context.get(ready.context, Beta).value, 2)
      const beta = Stage.fromLayer({ name: "beta", purpose: "fails", provides: Beta, layer: Stage.toLayer(s.failingBeta) })
      const failed = yield* Effect.flip(Runner.run(Pipeline.make("rt", "round trip").pipe(Pipeline.add(alpha), Pipeline.add(beta))))
      assert.deepStrictEqual(failed.report.results[1]!.error, { tag: "StageFatal", message: "beta broke", remediation: "fix beta" })
    }))
})
