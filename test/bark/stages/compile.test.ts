/**
 * The compile stage after preload on a tiny model: it only warms up the
 * sessions preload opened (already optimised as they opened), creating none;
 * disabled it is skipped and preload's "basic" sessions pass through; the
 * deprecated BARK_ENABLE_TORCH_COMPILE still works, with a warning;
 * offloaded sessions and the worker engine's are not warmed here; a failed
 * warm-up is fatal.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import type { BarkModels } from "../../../src/bark/models.ts"
import { CompiledModels, ModelFiles, PreloadedModels } from "../../../src/bark/services.ts"
import * as Compile from "../../../src/bark/stages/compile.ts"
import { InferenceError } from "../../../src/onnx/InferenceError.ts"
import * as Pipeline from "../../../src/pipeline/Pipeline.ts"
import * as Runner from "../../../src/pipeline/Runner.ts"
import { countingBackend, given, modelRecipe, speak, tempCache, tinyModel } from "./modelStages.ts"

type Files = typeof ModelFiles.Service

/** Runs the recipe up to compile in its own scope, generates once with the compiled models. */
const compileAndSpeak = (cacheDir: string, files: Files, config: Record<string, string> = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const { backend, counts, sessions } = countingBackend()
    const ready = yield* Runner.run(modelRecipe(files, backend), { config: { BARK_CACHE_DIR: cacheDir, ...config } })
    const compiled = Context.get(ready.context, CompiledModels)
    const preloaded = Context.get(ready.context, PreloadedModels)
    const afterCompile = { ...counts }
    const audio = compiled.models === undefined ? undefined : (yield* speak(compiled.models)).audio
    return {
      result: ready.report.results.find((r) => r.stage === "compile")!,
      compiled,
      preloaded,
      audio,
      afterCompile,
      sessions: [...sessions]
    }
  }))

describe("compile stage", () => {
  it.effect("warms every sub-model up on preload's sessions, opening none of its own", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const { files } = yield* tinyModel()
      const cold = yield* compileAndSpeak(cacheDir, files)
      assert.strictEqual(cold.result.outcome, "succeeded")
      assert.strictEqual(cold.compiled.optimization, "all")
      assert.isTrue(cold.compiled.warmedUp)
      assert.strictEqual(cold.compiled.models, cold.preloaded.models, "compile passes preload's models on")
      assert.strictEqual(cold.result.metadata["optimizationLevel"], "all")
      assert.hasAllKeys(cold.result.metadata["warmUpMs"], ["semantic", "coarse", "fine", "codec"])
      assert.strictEqual(cold.afterCompile.created, 4, "no session besides preload's four")
      assert.strictEqual(cold.afterCompile.maxOpen, 4)
      assert.isTrue(cold.sessions.every((s) => s.options.graphOptimizationLevel === "all"))
      assert.isTrue(cold.audio!.every(Number.isFinite))

      const warm = yield* compileAndSpeak(cacheDir, files)
      assert.strictEqual(warm.result.outcome, "succeeded")
      assert.deepStrictEqual(Array.from(warm.audio!), Array.from(cold.audio!))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("BARK_ENABLE_COMPILE=false skips it and passes preload's basic-optimised models through, unwarmed", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const { files } = yield* tinyModel()
      const off = yield* compileAndSpeak(cacheDir, files, { BARK_ENABLE_COMPILE: "False" })
      assert.strictEqual(off.result.outcome, "skipped")
      assert.include(off.result.skipReason ?? "", "BARK_ENABLE_COMPILE=false")
      assert.strictEqual(off.compiled.models, off.preloaded.models)
      assert.strictEqual(off.compiled.optimization, "basic")
      assert.isFalse(off.compiled.warmedUp)
      assert.strictEqual(off.afterCompile.created, 4)
      assert.isTrue(off.sessions.every((s) => s.options.graphOptimizationLevel === "basic"))
      assert.isTrue(off.audio!.every(Number.isFinite))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("reads the deprecated BARK_ENABLE_TORCH_COMPILE with a warning; BARK_ENABLE_COMPILE wins", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const { files } = yield* tinyModel()
      const legacyOff = yield* compileAndSpeak(cacheDir, files, { BARK_ENABLE_TORCH_COMPILE: "0" })
      assert.strictEqual(legacyOff.result.outcome, "skipped")
      assert.include(legacyOff.result.skipReason ?? "", "BARK_ENABLE_TORCH_COMPILE=false")
      assert.include(legacyOff.result.warnings[0]!.message, "BARK_ENABLE_TORCH_COMPILE is deprecated")
      assert.strictEqual(legacyOff.compiled.optimization, "basic")

      const legacyOn = yield* compileAndSpeak(cacheDir, files, { BARK_ENABLE_TORCH_COMPILE: "True" })
      assert.strictEqual(legacyOn.result.outcome, "warned")
      assert.isTrue(legacyOn.compiled.warmedUp)
      assert.strictEqual(legacyOn.compiled.optimization, "all")
      assert.include(legacyOn.result.warnings[0]!.remediation ?? "", "BARK_ENABLE_COMPILE")

      const both = yield* compileAndSpeak(cacheDir, files, { BARK_ENABLE_COMPILE: "true", BARK_ENABLE_TORCH_COMPILE: "false" })
      assert.strictEqual(both.result.outcome, "succeeded")
      assert.isTrue(both.compiled.warmedUp)
      assert.strictEqual(both.compiled.optimization, "all")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("an invalid BARK_ENABLE_COMPILE is a config error, not a silent default", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const { files } = yield* tinyModel()
      const failed = yield* Effect.flip(compileAndSpeak(cacheDir, files, { BARK_ENABLE_COMPILE: "maybe" }))
      assert.strictEqual(failed._tag, "PipelineFailed")
      if (failed._tag === "PipelineFailed") {
        // preload reads it first: it chooses the sessions' optimisation level
        assert.strictEqual(failed.stage, "preload")
        assert.strictEqual(failed.errorTag, "ConfigError")
        assert.include(failed.message, "BARK_ENABLE_COMPILE")
      }
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("with SUNO_OFFLOAD_CPU nothing is warmed up (sessions open per use), holding one session at a time", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const { files } = yield* tinyModel()
      const offload = yield* compileAndSpeak(cacheDir, files, { SUNO_OFFLOAD_CPU: "1" })
      assert.strictEqual(offload.result.outcome, "succeeded")
      assert.isFalse(offload.compiled.warmedUp)
      assert.strictEqual(offload.compiled.optimization, "all")
      assert.include(String(offload.result.metadata["warmUp"]), "SUNO_OFFLOAD_CPU")
      assert.strictEqual(offload.afterCompile.maxOpen, 1)
      const resident = yield* compileAndSpeak(cacheDir, files)
      assert.deepStrictEqual(Array.from(offload.audio!), Array.from(resident.audio!))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("with BARK_ENGINE=worker there are no main-thread models: the worker warms its own", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const { files } = yield* tinyModel()
      const worker = yield* compileAndSpeak(cacheDir, files, { BARK_ENGINE: "worker" })
      assert.strictEqual(worker.result.outcome, "succeeded")
      assert.isUndefined(worker.compiled.models)
      assert.isFalse(worker.compiled.warmedUp)
      assert.include(String(worker.result.metadata["warmUp"]), "worker engine")
      assert.strictEqual(worker.afterCompile.created, 0)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("models that fail their warm-up are fatal", () =>
    Effect.gen(function*() {
      const broken = Effect.fail(
        new InferenceError({ model: "semantic", message: "broken model", remediation: "rebuild it" })
      )
      const models: BarkModels = {
        semantic: { outputVocabSize: 1, prefill: () => broken, step: () => broken },
        coarse: { outputVocabSize: 1, prefill: () => broken, step: () => broken },
        fine: { windowSize: 1, nCodes: 8, outputVocabSize: 1, run: () => broken },
        codec: { sampleRate: 24_000, hopLength: 320, decode: () => broken }
      }
      const recipe = Pipeline.make("warm-up", "preload given, compile").pipe(
        Pipeline.add(given("preload", PreloadedModels, { models, offload: false, sessionOptions: { graphOptimizationLevel: "all" } })),
        Pipeline.add(Compile.stage)
      )
      const failed = yield* Effect.flip(Effect.scoped(Runner.run(recipe)))
      assert.strictEqual(failed.stage, "compile")
      assert.include(failed.message, "warm-up run: broken model")
      assert.strictEqual(failed.remediation, "rebuild it")
      const result = failed.report.results.find((r) => r.stage === "compile")!
      assert.strictEqual(result.outcome, "failed")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
