import { assert, describe, it } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Context, Effect, FileSystem } from "effect"
import customCompileRecipe, { warmUpOnly } from "../../pipelines/examples/custom-compile.ts"
import type { BarkModels } from "../../src/bark/models.ts"
import { CompiledModels, PreloadedModels } from "../../src/bark/services.ts"
import { InferenceError } from "../../src/onnx/InferenceError.ts"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"
import * as MemorySink from "../../src/pipeline/sinks/memory.ts"
import * as Stage from "../../src/pipeline/Stage.ts"
import { tinyModelDir } from "../bark/engine/tinyModel.ts"
import { fakeCausalLM, fakeCodec, fakeFineLM } from "../bark/fakeModels.ts"

class Served extends Context.Service<Served, { readonly warmedUp: boolean; readonly models: BarkModels | undefined }>()("test/Served") {}

/** In-memory models that count their calls; `failCodec` makes the codec's decode fail. */
const makeModels = (failCodec = false) => {
  const semantic = fakeCausalLM(16, () => {})
  const coarse = fakeCausalLM(16, () => {})
  const fine = fakeFineLM(() => {})
  let decodes = 0
  const codec = fakeCodec()
  const models: BarkModels = {
    semantic: semantic.model,
    coarse: coarse.model,
    fine: fine.model,
    codec: {
      ...codec,
      decode: (codes, frames) =>
        Effect.suspend(() => {
          decodes++
          return failCodec
            ? Effect.fail(new InferenceError({ model: "codec", message: "codec session is broken", remediation: "rebuild it" }))
            : codec.decode(codes, frames)
        })
    }
  }
  const calls = () => ({ semantic: semantic.calls.length, coarse: coarse.calls.length, fine: fine.calls.length, codec: decodes })
  return { models, calls }
}

/**
 * The tail of the startup recipe with preload faked: preload, the built-in
 * compile's place, and a ready-like stage that serves whatever compile gave it.
 */
const recipeWith = (models: BarkModels | undefined, offload = false) =>
  Pipeline.make("custom-compile-test", "preload → compile → ready").pipe(
    Pipeline.add(Stage.make({
      name: "preload",
      purpose: "in-memory models",
      provides: PreloadedModels,
      build: Effect.succeed(PreloadedModels.of({ models, offload, sessionOptions: { graphOptimizationLevel: "all", prepack: false, cpuMemArena: false } }))
    })),
    Pipeline.add(Stage.make({
      name: "compile",
      purpose: "the built-in compile",
      provides: CompiledModels,
      needs: [PreloadedModels],
      build: Effect.map(PreloadedModels, ({ models }) => CompiledModels.of({ models, optimization: "all", warmedUp: true }))
    })),
    Pipeline.add(Stage.make({
      name: "ready",
      purpose: "serves the compiled models",
      provides: Served,
      needs: [CompiledModels],
      build: Effect.map(CompiledModels, ({ models, warmedUp }) => Served.of({ models, warmedUp }))
    }))
  )

describe("example: custom-compile", () => {
  it.effect("replacing the compile stage keeps the recipe's shape; the warm-up calls each sub-model once", () =>
    Effect.gen(function*() {
      const { models, calls } = makeModels()
      const custom = recipeWith(models).pipe(Pipeline.replace(CompiledModels, warmUpOnly))
      assert.deepStrictEqual(Pipeline.stages(custom).map((s) => s.name), ["preload", "compile", "ready"])
      assert.strictEqual(Pipeline.stages(custom)[1]!.purpose, warmUpOnly.purpose)

      const sink = MemorySink.make()
      const ready = yield* Effect.scoped(Runner.run(custom, { sinks: [sink] }))
      assert.deepStrictEqual(calls(), { semantic: 1, coarse: 1, fine: 1, codec: 1 })
      const compiled = Context.get(ready.context, CompiledModels)
      assert.deepInclude(compiled, { optimization: "all", warmedUp: true })
      assert.strictEqual(Context.get(ready.context, Served).models, models, "ready got the models through the custom stage")
      const result = ready.report.results[1]!
      assert.strictEqual(result.outcome, "succeeded")
      assert.hasAllKeys(result.metadata["warmUpMs"], ["semantic", "coarse", "fine", "codec"])
      const progress = sink.events.flatMap((e) => (e.type === "progress" ? [e.label] : []))
      assert.strictEqual(progress.at(-1), "codec")
    }))

  it.effect("a failed warm-up is a warning with a fix, and the models are still served", () =>
    Effect.gen(function*() {
      const { models, calls } = makeModels(true)
      const custom = recipeWith(models).pipe(Pipeline.replace(CompiledModels, warmUpOnly))
      const ready = yield* Effect.scoped(Runner.run(custom))
      assert.deepStrictEqual(calls(), { semantic: 1, coarse: 1, fine: 1, codec: 1 })
      const result = ready.report.results[1]!
      assert.strictEqual(result.outcome, "warned")
      assert.include(result.warnings[0]!.message, "codec session is broken")
      assert.isDefined(result.warnings[0]!.remediation)
      assert.strictEqual(ready.report.results[2]!.outcome, "succeeded")
      assert.isFalse(Context.get(ready.context, Served).warmedUp)
    }))

  it.effect("with CPU offload nothing is warmed up: sessions would be released right after", () =>
    Effect.gen(function*() {
      const { models, calls } = makeModels()
      const ready = yield* Effect.scoped(Runner.run(recipeWith(models, true).pipe(Pipeline.replace(CompiledModels, warmUpOnly))))
      assert.deepStrictEqual(calls(), { semantic: 0, coarse: 0, fine: 0, codec: 0 })
      assert.isFalse(Context.get(ready.context, CompiledModels).warmedUp)
    }))

  it.effect("with the worker engine (no main-thread models) nothing is warmed up here and ready gets no models", () =>
    Effect.gen(function*() {
      const ready = yield* Effect.scoped(Runner.run(recipeWith(undefined).pipe(Pipeline.replace(CompiledModels, warmUpOnly))))
      const compiled = Context.get(ready.context, CompiledModels)
      assert.deepStrictEqual(compiled, CompiledModels.of({ models: undefined, optimization: "all", warmedUp: false }))
      assert.strictEqual(ready.report.results[1]!.outcome, "succeeded")
      assert.isUndefined(Context.get(ready.context, Served).models)
    }))

  it.live("the example recipe runs the real startup on a tiny model with the custom compile in place", () =>
    Effect.gen(function*() {
      const dir = yield* tinyModelDir
      const cache = yield* FileSystem.FileSystem.use((fs) => fs.makeTempDirectoryScoped({ prefix: "bark-custom-compile-" }))
      const ready = yield* Runner.run(customCompileRecipe, { config: { BARK_MODEL: dir, BARK_CACHE_DIR: cache } })
      const compile = ready.report.results.find((r) => r.stage === "compile")!
      assert.strictEqual(compile.outcome, "succeeded")
      assert.deepStrictEqual(Object.keys(compile.metadata["warmUpMs"] as object).sort(), ["coarse", "codec", "fine", "semantic"])
      assert.strictEqual(ready.report.results.at(-1)!.stage, "ready")
      assert.strictEqual(ready.report.results.at(-1)!.outcome, "succeeded")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
