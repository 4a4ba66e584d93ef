import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import type { BarkModels } from "../../../src/bark/models.ts"
import { CompiledModels, LoadedWeights, PreloadedModels } from "../../../src/bark/services.ts"
import * as CacheDirs from "../../../src/bark/stages/cacheDirs.ts"
import * as Compile from "../../../src/bark/stages/compile.ts"
import * as Preload from "../../../src/bark/stages/preload.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import { InferenceError } from "../../../src/onnx/InferenceError.ts"
import * as Pipeline from "../../../src/pipeline/Pipeline.ts"
import * as Runner from "../../../src/pipeline/Runner.ts"
import { countingBackend, given, speak, tempCache, tinyWeights } from "./modelStages.ts"

type Weights = typeof LoadedWeights.Service

const pipeline = (weights: Weights, backend: typeof InferenceBackend.Service, compile = Compile.stage) =>
  Pipeline.make("compile-test", "cache, weights, backend, preload, compile").pipe(
    Pipeline.add(CacheDirs.stage),
    Pipeline.add(given("weights", LoadedWeights, weights)),
    Pipeline.add(given("backend", InferenceBackend, backend)),
    Pipeline.add(Preload.stage),
    Pipeline.add(compile)
  )

/** Runs the recipe in its own scope, generates once with the compiled models. */
const compileAndSpeak = (
  cacheDir: string,
  weights: Weights,
  options: { readonly config?: Record<string, string>; readonly compile?: typeof Compile.stage } = {}
) =>
  Effect.scoped(Effect.gen(function*() {
    const { backend, counts } = countingBackend()
    const ready = yield* Runner.run(pipeline(weights, backend, options.compile), {
      config: { BARK_CACHE_DIR: cacheDir, ...options.config }
    })
    const compiled = Context.get(ready.context, CompiledModels)
    const preloaded = Context.get(ready.context, PreloadedModels)
    const audio = (yield* speak(compiled.models)).audio
    return { result: ready.report.results.find((r) => r.stage === "compile")!, compiled, preloaded, audio, counts: { ...counts } }
  }))

const failingOptimizer: Compile.Optimizer = ({ model }) =>
  Effect.fail(new Compile.OptimizeError({ model, message: "injected failure", remediation: "none: this is a test" }))

describe("compile stage", () => {
  it.effect("optimises every sub-model, caches the optimised models and warms up", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const weights = yield* tinyWeights()
      const cold = yield* compileAndSpeak(cacheDir, weights)
      assert.strictEqual(cold.result.outcome, "succeeded")
      assert.isTrue(cold.compiled.optimized)
      assert.isTrue(cold.compiled.warmedUp)
      assert.strictEqual(cold.compiled.models, cold.preloaded.models, "sessions are swapped in place")
      assert.deepStrictEqual(cold.result.metadata["optimized"], {
        semantic: "optimised and cached",
        coarse: "optimised and cached",
        fine: "optimised and cached",
        codec: "optimised and cached"
      })
      assert.hasAllKeys(cold.result.metadata["warmUpMs"], ["semantic", "coarse", "fine", "codec"])
      assert.strictEqual(cold.counts.maxOpen, 4, "each preload session is released before its optimised one is created")
      assert.isTrue(cold.audio.every(Number.isFinite))

      const warm = yield* compileAndSpeak(cacheDir, weights)
      assert.strictEqual(warm.result.outcome, "succeeded")
      assert.strictEqual(warm.result.metadata["graphCacheHits"], 4)
      assert.deepStrictEqual(Array.from(warm.audio), Array.from(cold.audio))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("an optimiser that fails leaves the models unoptimised, with a warning, and they still generate", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const weights = yield* tinyWeights()
      const plain = yield* compileAndSpeak(cacheDir, weights, { config: { BARK_ENABLE_COMPILE: "false" } })
      const failed = yield* compileAndSpeak(cacheDir, weights, { compile: Compile.make({ optimize: failingOptimizer }) })
      assert.strictEqual(failed.result.outcome, "warned")
      assert.strictEqual(failed.result.warnings.length, 4)
      assert.include(failed.result.warnings[0]!.message, "semantic could not be optimised and runs unoptimised: injected failure")
      assert.isFalse(failed.compiled.optimized)
      assert.isTrue(failed.compiled.warmedUp)
      assert.deepStrictEqual(Array.from(failed.audio), Array.from(plain.audio))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("BARK_ENABLE_COMPILE=false skips it and passes preload's models through", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const weights = yield* tinyWeights()
      const off = yield* compileAndSpeak(cacheDir, weights, { config: { BARK_ENABLE_COMPILE: "False" } })
      assert.strictEqual(off.result.outcome, "skipped")
      assert.include(off.result.skipReason ?? "", "BARK_ENABLE_COMPILE=false")
      assert.strictEqual(off.compiled.models, off.preloaded.models)
      assert.isFalse(off.compiled.optimized)
      assert.isFalse(off.compiled.warmedUp)
      assert.strictEqual(off.counts.created, 4, "no optimised sessions")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("reads the deprecated BARK_ENABLE_TORCH_COMPILE with a warning; BARK_ENABLE_COMPILE wins", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const weights = yield* tinyWeights()
      const legacyOff = yield* compileAndSpeak(cacheDir, weights, { config: { BARK_ENABLE_TORCH_COMPILE: "0" } })
      assert.strictEqual(legacyOff.result.outcome, "skipped")
      assert.include(legacyOff.result.skipReason ?? "", "BARK_ENABLE_TORCH_COMPILE=false")
      assert.include(legacyOff.result.warnings[0]!.message, "BARK_ENABLE_TORCH_COMPILE is deprecated")

      const legacyOn = yield* compileAndSpeak(cacheDir, weights, { config: { BARK_ENABLE_TORCH_COMPILE: "True" } })
      assert.strictEqual(legacyOn.result.outcome, "warned")
      assert.isTrue(legacyOn.compiled.optimized)
      assert.include(legacyOn.result.warnings[0]!.remediation ?? "", "BARK_ENABLE_COMPILE")

      const both = yield* compileAndSpeak(cacheDir, weights, {
        config: { BARK_ENABLE_COMPILE: "true", BARK_ENABLE_TORCH_COMPILE: "false" }
      })
      assert.strictEqual(both.result.outcome, "succeeded")
      assert.isTrue(both.compiled.optimized)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("an invalid BARK_ENABLE_COMPILE is a config error, not a silent default", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const failed = yield* Effect.flip(
        compileAndSpeak(cacheDir, yield* tinyWeights(), { config: { BARK_ENABLE_COMPILE: "maybe" } })
      )
      assert.strictEqual(failed._tag, "PipelineFailed")
      if (failed._tag === "PipelineFailed") {
        assert.strictEqual(failed.stage, "compile")
        assert.strictEqual(failed.errorTag, "ConfigError")
      }
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("with SUNO_OFFLOAD_CPU it optimises and warms up holding one session at a time", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const weights = yield* tinyWeights()
      const offload = yield* compileAndSpeak(cacheDir, weights, { config: { SUNO_OFFLOAD_CPU: "1" } })
      assert.strictEqual(offload.result.outcome, "succeeded")
      assert.isTrue(offload.compiled.optimized)
      assert.strictEqual(offload.counts.maxOpen, 1)
      const resident = yield* compileAndSpeak(cacheDir, weights)
      assert.deepStrictEqual(Array.from(offload.audio), Array.from(resident.audio))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("models that fail their warm-up are fatal", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const broken = Effect.fail(
        new InferenceError({ model: "semantic", message: "broken model", remediation: "rebuild it" })
      )
      const models: BarkModels = {
        semantic: { outputVocabSize: 1, prefill: () => broken, step: () => broken },
        coarse: { outputVocabSize: 1, prefill: () => broken, step: () => broken },
        fine: { windowSize: 1, nCodes: 8, outputVocabSize: 1, run: () => broken },
        codec: { sampleRate: 24_000, hopLength: 320, decode: () => broken }
      }
      const recipe = Pipeline.make("warm-up", "d").pipe(
        Pipeline.add(CacheDirs.stage),
        Pipeline.add(given("weights", LoadedWeights, yield* tinyWeights())),
        Pipeline.add(given("backend", InferenceBackend, countingBackend().backend)),
        Pipeline.add(given("preload", PreloadedModels, { models, offload: false, graphDir: cacheDir })),
        Pipeline.add(Compile.stage)
      )
      const failed = yield* Effect.flip(Effect.scoped(Runner.run(recipe, { config: { BARK_CACHE_DIR: cacheDir } })))
      assert.strictEqual(failed.stage, "compile")
      assert.include(failed.message, "warm-up run: broken model")
      assert.strictEqual(failed.remediation, "rebuild it")
      const result = failed.report.results.find((r) => r.stage === "compile")!
      assert.include(result.warnings[0]!.message, "not made by loadModels")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
