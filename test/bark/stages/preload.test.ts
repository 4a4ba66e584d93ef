/**
 * The preload stage on a tiny model converted by safe-load: sessions opened
 * once, by path from the graph cache, with their final options (optimisation
 * "all", or "basic" with BARK_ENABLE_COMPILE=false; prepacking off unless
 * BARK_ORT_PREPACK=1); SUNO_OFFLOAD_CPU holding one at a time; BARK_ENGINE=worker
 * opening none; every session released with the run's scope.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import * as path from "node:path"
import { sessionsOf } from "../../../src/bark/loadModels.ts"
import { SUB_MODELS } from "../../../src/bark/models.ts"
import { ConvertedModel, ModelFiles, PreloadedModels } from "../../../src/bark/services.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import * as Runner from "../../../src/pipeline/Runner.ts"
import { countingBackend, graphsRoot, modelRecipe, speak, tempCache, tinyModel } from "./modelStages.ts"

type Backend = typeof InferenceBackend.Service
type Files = typeof ModelFiles.Service

const run = (cacheDir: string, files: Files, backend: Backend, config: Record<string, string> = {}) =>
  Runner.run(modelRecipe(files, backend, { compile: false }), { config: { BARK_CACHE_DIR: cacheDir, ...config } }).pipe(
    Effect.map((ready) => ({
      result: ready.report.results.find((r) => r.stage === "preload")!,
      preloaded: Context.get(ready.context, PreloadedModels),
      converted: Context.get(ready.context, ConvertedModel)
    }))
  )

/** Runs the recipe up to preload in its own scope, generates once, and returns what the test looks at. */
const preloadAndSpeak = (cacheDir: string, files: Files, config: Record<string, string> = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const { backend, counts, sessions } = countingBackend()
    const { preloaded, converted, result } = yield* run(cacheDir, files, backend, config)
    const afterPreload = { ...counts, models: [...counts.models] }
    const audio = preloaded.models === undefined ? undefined : (yield* speak(preloaded.models)).audio
    return { result, preloaded, converted, afterPreload, afterSpeak: { ...counts }, sessions: [...sessions], audio }
  }))

describe("preload stage", () => {
  it.effect("opens each sub-model's session once, by path from the graph cache, with its final options; the models generate", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const { files } = yield* tinyModel()
      const cold = yield* preloadAndSpeak(cacheDir, files)
      assert.strictEqual(cold.result.outcome, "succeeded")
      assert.isFalse(cold.preloaded.offload)
      assert.strictEqual(cold.afterPreload.created, 4)
      assert.deepStrictEqual(cold.afterPreload.models, [...SUB_MODELS])
      assert.deepStrictEqual(cold.result.metadata["sessionsOpen"], [...SUB_MODELS])
      assert.strictEqual(cold.result.metadata["graphOptimizationLevel"], "all")
      assert.strictEqual(cold.result.metadata["prepack"], false)
      assert.deepStrictEqual(cold.preloaded.sessionOptions, { graphOptimizationLevel: "all", prepack: false, cpuMemArena: false })
      for (const session of cold.sessions) {
        const model = session.model as typeof SUB_MODELS[number]
        assert.strictEqual(session.source, cold.converted.graphs[model], `${model} is opened from its cached graph`)
        assert.isTrue(session.source.startsWith(graphsRoot(cacheDir) + path.sep))
        assert.strictEqual(path.basename(session.source), "model.onnx")
        assert.strictEqual(session.options.graphOptimizationLevel, "all")
        assert.strictEqual(session.options.prepack, false)
        assert.strictEqual(session.options.cpuMemArena, false)
      }
      assert.strictEqual(cold.afterSpeak.created, 4, "no session is created while generating")
      assert.isAbove(cold.audio!.length, 0)
      assert.isTrue(cold.audio!.every(Number.isFinite))

      // A second start opens the same files (safe-load found them) and generates the same audio.
      const warm = yield* preloadAndSpeak(cacheDir, files)
      assert.deepStrictEqual(warm.sessions.map((s) => s.source), cold.sessions.map((s) => s.source))
      assert.deepStrictEqual(Array.from(warm.audio!), Array.from(cold.audio!))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("BARK_ENABLE_COMPILE=false opens the sessions with basic optimisations; BARK_ORT_PREPACK=1 and BARK_ORT_CPU_ARENA=1 turn prepacking and the arena on", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const { files } = yield* tinyModel()
      const basic = yield* preloadAndSpeak(cacheDir, files, { BARK_ENABLE_COMPILE: "false" })
      assert.strictEqual(basic.result.metadata["graphOptimizationLevel"], "basic")
      assert.isTrue(basic.sessions.every((s) => s.options.graphOptimizationLevel === "basic" && s.options.prepack === false))
      assert.isTrue(basic.audio!.every(Number.isFinite))

      const prepacked = yield* preloadAndSpeak(cacheDir, files, { BARK_ORT_PREPACK: "1" })
      assert.strictEqual(prepacked.result.metadata["prepack"], true)
      assert.deepStrictEqual(prepacked.preloaded.sessionOptions, { graphOptimizationLevel: "all", prepack: true, cpuMemArena: false })
      assert.isTrue(prepacked.sessions.every((s) => s.options.prepack === true))

      const arena = yield* preloadAndSpeak(cacheDir, files, { BARK_ORT_CPU_ARENA: "1" })
      assert.strictEqual(arena.result.metadata["cpuMemArena"], true)
      assert.isTrue(arena.sessions.every((s) => s.options.cpuMemArena === true && s.options.prepack === false))
      assert.isTrue(arena.audio!.every(Number.isFinite))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("with BARK_ENGINE=worker it opens no session: the worker engine opens its own from the same files", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const { files } = yield* tinyModel()
      const worker = yield* preloadAndSpeak(cacheDir, files, { BARK_ENGINE: "worker" })
      assert.strictEqual(worker.result.outcome, "succeeded")
      assert.isUndefined(worker.preloaded.models)
      assert.strictEqual(worker.afterPreload.created, 0)
      assert.deepStrictEqual(worker.result.metadata["sessionsOpen"], [])
      assert.include(String(worker.result.metadata["opensSessions"]), "worker")
      assert.deepStrictEqual(worker.preloaded.sessionOptions, { graphOptimizationLevel: "all", prepack: false, cpuMemArena: false })
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("with SUNO_OFFLOAD_CPU one session is open at a time, one per sub-model per generation", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const { files } = yield* tinyModel()
      const resident = yield* preloadAndSpeak(cacheDir, files)
      assert.strictEqual(resident.afterSpeak.created, 4, "resident: no session created while generating")
      assert.strictEqual(resident.afterSpeak.maxOpen, 4)

      const offload = yield* preloadAndSpeak(cacheDir, files, { SUNO_OFFLOAD_CPU: "True" })
      assert.isTrue(offload.preloaded.offload)
      assert.strictEqual(offload.afterPreload.maxOpen, 1)
      assert.strictEqual(offload.afterPreload.open, 1)
      assert.strictEqual(offload.afterSpeak.maxOpen, 1)
      // the codec, opened last by preload, is released for semantic; then coarse, fine, codec: 4 sessions for a whole generation
      assert.deepStrictEqual(offload.afterSpeak.models.slice(4), ["semantic", "coarse", "fine", "codec"])
      assert.strictEqual(offload.afterSpeak.released, offload.afterSpeak.created - 1)
      assert.isTrue(offload.sessions.every((s) => s.source === offload.converted.graphs[s.model as typeof SUB_MODELS[number]]))
      assert.deepStrictEqual(Array.from(offload.audio!), Array.from(resident.audio!))
      const pool = sessionsOf(offload.preloaded.models!)!
      assert.strictEqual(pool.mode, "offload")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("releases every session when the run's scope closes", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const { files } = yield* tinyModel()
      const { backend, counts } = countingBackend()
      yield* Effect.scoped(run(cacheDir, files, backend))
      assert.strictEqual(counts.created, 4)
      assert.strictEqual(counts.open, 0)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
