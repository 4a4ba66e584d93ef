import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as GraphCache from "../../../src/bark/graphCache.ts"
import { sessionsOf } from "../../../src/bark/loadModels.ts"
import { LoadedWeights, PreloadedModels } from "../../../src/bark/services.ts"
import * as CacheDirs from "../../../src/bark/stages/cacheDirs.ts"
import * as Preload from "../../../src/bark/stages/preload.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import * as Pipeline from "../../../src/pipeline/Pipeline.ts"
import * as Runner from "../../../src/pipeline/Runner.ts"
import { countingBackend, given, graphEntries, speak, tempCache, tinyWeights } from "./modelStages.ts"

type Weights = typeof LoadedWeights.Service
type Backend = typeof InferenceBackend.Service

const run = (cacheDir: string, weights: Weights, backend: Backend, config: Record<string, string> = {}) =>
  Runner.run(
    Pipeline.make("preload-test", "cache, weights, backend, preload").pipe(
      Pipeline.add(CacheDirs.stage),
      Pipeline.add(given("weights", LoadedWeights, weights)),
      Pipeline.add(given("backend", InferenceBackend, backend)),
      Pipeline.add(Preload.stage)
    ),
    { config: { BARK_CACHE_DIR: cacheDir, ...config } }
  ).pipe(Effect.map((ready) => ({
    result: ready.report.results.find((r) => r.stage === "preload")!,
    preloaded: Context.get(ready.context, PreloadedModels)
  })))

/** Runs preload in its own scope, generates once, and returns what the test looks at. */
const preloadAndSpeak = (cacheDir: string, weights: Weights, config: Record<string, string> = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const { backend, counts } = countingBackend()
    const { preloaded, result } = yield* run(cacheDir, weights, backend, config)
    const afterPreload = { ...counts }
    const audio = (yield* speak(preloaded.models)).audio
    return { result, preloaded, afterPreload, afterSpeak: { ...counts }, audio }
  }))

const firstFile = (entry: string, name: string) => path.join(entry, name)

describe("preload stage", () => {
  it.effect("builds the four graphs, caches them, and the models generate", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const weights = yield* tinyWeights()
      const cold = yield* preloadAndSpeak(cacheDir, weights)
      assert.strictEqual(cold.result.outcome, "succeeded")
      assert.strictEqual(cold.result.metadata["graphCacheMisses"], 4)
      assert.strictEqual(cold.result.metadata["graphCacheHits"], 0)
      assert.isFalse(cold.preloaded.offload)
      assert.strictEqual(cold.afterPreload.created, 4)
      assert.isAbove(cold.audio.length, 0)
      assert.isTrue(cold.audio.every(Number.isFinite))
      const entries = graphEntries(cacheDir)
      assert.strictEqual(entries.length, 4)
      for (const entry of entries) {
        const manifest = JSON.parse(fs.readFileSync(firstFile(entry, "manifest.json"), "utf8"))
        assert.strictEqual(manifest.key, path.basename(entry))
        for (const f of manifest.files) assert.strictEqual(fs.statSync(path.join(entry, f.path)).size, f.bytes)
      }
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("a second start loads every graph from the cache and generates the same audio", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const weights = yield* tinyWeights()
      const cold = yield* preloadAndSpeak(cacheDir, weights)
      const warm = yield* preloadAndSpeak(cacheDir, weights)
      assert.strictEqual(warm.result.outcome, "succeeded")
      assert.strictEqual(warm.result.metadata["graphCacheHits"], 4)
      assert.strictEqual(warm.result.metadata["graphCacheMisses"], 0)
      assert.deepStrictEqual(Array.from(warm.audio), Array.from(cold.audio))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("another checkpoint or execution provider misses the cache", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      yield* preloadAndSpeak(cacheDir, yield* tinyWeights("a".repeat(64)))
      const other = yield* preloadAndSpeak(cacheDir, yield* tinyWeights("b".repeat(64)))
      assert.strictEqual(other.result.metadata["graphCacheHits"], 0)
      assert.strictEqual(graphEntries(cacheDir).length, 8)
      const base = { checkpointSha256: "a", graph: "semantic", dtype: "float32", executionProvider: "cpu", builderVersion: "1" } as const
      const key = GraphCache.graphKey(base)
      assert.notStrictEqual(GraphCache.graphKey({ ...base, executionProvider: "cuda" }), key)
      assert.notStrictEqual(GraphCache.graphKey({ ...base, builderVersion: "2" }), key)
      assert.notStrictEqual(GraphCache.graphKey({ ...base, graph: "coarse" }), key)
      const { graph, ...rest } = base
      assert.strictEqual(GraphCache.graphKey({ graph, ...rest }), key, "property order does not matter")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("a corrupt or half-written entry is rebuilt with a warning, never used", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const weights = yield* tinyWeights()
      const cold = yield* preloadAndSpeak(cacheDir, weights)
      const [flipped, unfinished] = graphEntries(cacheDir)
      // Same size, one byte changed: only the hash can tell.
      const weightsFile = fs.readdirSync(flipped!).find((f) => f !== "manifest.json" && f !== "model.onnx")!
      const bytes = fs.readFileSync(path.join(flipped!, weightsFile))
      const middle = bytes.length >> 1
      bytes[middle] = bytes[middle]! ^ 0xff
      fs.writeFileSync(path.join(flipped!, weightsFile), bytes)
      fs.rmSync(path.join(unfinished!, "manifest.json"))

      const warm = yield* preloadAndSpeak(cacheDir, weights)
      assert.strictEqual(warm.result.outcome, "warned")
      assert.strictEqual(warm.result.warnings.length, 2)
      const messages = warm.result.warnings.map((w) => w.message).join("\n")
      assert.include(messages, "does not match its sha256")
      assert.include(messages, "unreadable manifest")
      assert.strictEqual(warm.result.metadata["graphCacheHits"], 2)
      assert.strictEqual(warm.result.metadata["graphCacheInvalid"], 2)
      assert.deepStrictEqual(Array.from(warm.audio), Array.from(cold.audio))

      const again = yield* preloadAndSpeak(cacheDir, weights)
      assert.strictEqual(again.result.outcome, "succeeded")
      assert.strictEqual(again.result.metadata["graphCacheHits"], 4)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("with SUNO_OFFLOAD_CPU one session is open at a time, one per sub-model per generation", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const weights = yield* tinyWeights()
      const resident = yield* preloadAndSpeak(cacheDir, weights)
      assert.strictEqual(resident.afterSpeak.created, 4, "resident: no session created while generating")
      assert.strictEqual(resident.afterSpeak.maxOpen, 4)

      const offload = yield* preloadAndSpeak(cacheDir, weights, { SUNO_OFFLOAD_CPU: "True" })
      assert.isTrue(offload.preloaded.offload)
      assert.strictEqual(offload.afterPreload.maxOpen, 1)
      assert.strictEqual(offload.afterPreload.open, 1)
      assert.strictEqual(offload.afterSpeak.maxOpen, 1)
      // the codec, opened last by preload, is released for semantic; then coarse, fine, codec: 4 sessions for a whole generation
      assert.deepStrictEqual(offload.afterSpeak.models.slice(4), ["semantic", "coarse", "fine", "codec"])
      assert.strictEqual(offload.afterSpeak.released, offload.afterSpeak.created - 1)
      assert.deepStrictEqual(Array.from(offload.audio), Array.from(resident.audio))
      const pool = sessionsOf(offload.preloaded.models)!
      assert.strictEqual(pool.mode, "offload")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("releases every session when the run's scope closes", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const weights = yield* tinyWeights()
      const { backend, counts } = countingBackend()
      yield* Effect.scoped(run(cacheDir, weights, backend))
      assert.strictEqual(counts.created, 4)
      assert.strictEqual(counts.open, 0)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.effect("weights that do not match the config are fatal, with a remediation", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const weights = yield* tinyWeights()
      const tensors = new Map(weights.tensors)
      tensors.delete("coarse_acoustics.lm_head.weight")
      const { backend } = countingBackend()
      const failed = yield* Effect.flip(Effect.scoped(run(cacheDir, { ...weights, tensors }, backend)))
      assert.strictEqual(failed.stage, "preload")
      assert.strictEqual(failed.errorTag, "GptWeightsError")
      assert.include(failed.message, "coarse_acoustics.lm_head.weight")
      assert.isNotEmpty(failed.remediation)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
