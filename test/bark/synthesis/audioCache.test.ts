/**
 * The audio-cache stage in the engine, on a tiny random model: with
 * BARK_AUDIO_CACHE=on a repeated seeded request returns identical audio
 * without running semantic (the trace says so), the entry survives a new
 * engine over the same folder (a restart), a damaged entry is generated
 * again with a warning, a full cache evicts, and a seedless request is
 * never cached.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, FileSystem, Layer, Path } from "effect"
import type { SynthesisOptions } from "../../../src/bark/engine/BarkEngine.ts"
import { type EngineOptions, makeBarkEngine } from "../../../src/bark/engine/inProcess.ts"
import { openModelDir } from "../../../src/bark/engine/openModelDir.ts"
import type { BarkModels } from "../../../src/bark/models.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import type { StageResult } from "../../../src/pipeline/StageResult.ts"
import type { TraceEvent } from "../../../src/pipeline/TraceEvent.ts"
import { testOwnDir } from "../engine/convertedModel.ts"
import { testEngineOptions, tinyModelDir } from "../engine/tinyModel.ts"

class Model extends Context.Service<Model, { readonly dir: string; readonly models: BarkModels }>()("test/CacheModel") {}

const model = Layer.effect(
  Model,
  Effect.gen(function*() {
    const dir = yield* tinyModelDir
    return { dir, models: yield* openModelDir(dir, { ownDir: yield* testOwnDir(dir) }) }
  })
).pipe(Layer.provideMerge(Layer.merge(NodeServices.layer, InferenceBackend.cpu({ intraOpNumThreads: 1 }))))

const cacheOn = ConfigProvider.fromEnv({ env: { BARK_AUDIO_CACHE: "on" } })

/** An engine over the tiny model with its audio cache in `dir`, bounded by `maxBytes`. */
const engineWith = (dir: string, maxBytes = 64 * 2 ** 20) =>
  Effect.gen(function*() {
    const { dir: modelDir, models } = yield* Model
    const options: EngineOptions = { ...testEngineOptions, audioCache: { dir, maxBytes }, identity: { model: "tiny", revision: null, dtype: "fp32" } }
    return yield* makeBarkEngine(models, modelDir, options)
  })

/** A synthesis with the cache on and its stage results. */
const speak = (engine: Effect.Success<ReturnType<typeof engineWith>>, text: string, options: SynthesisOptions) =>
  Effect.gen(function*() {
    const events: Array<TraceEvent> = []
    const synthesis = yield* engine.synthesize(text, { ...options, onTrace: (e) => Effect.sync(() => void events.push(e)) })
    const results = events.flatMap((e): Array<StageResult> => e.type === "stage-finished" ? [e.result] : [])
    const cache = results.find((r) => r.stage === "audio-cache")!
    return { synthesis, results, cache, ran: (stage: string) => results.some((r) => r.stage === stage) }
  }).pipe(Effect.provideService(ConfigProvider.ConfigProvider, cacheOn))

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)

describe("the audio cache in the engine", () => {
  layer(model, { timeout: 120_000, excludeTestServices: true })((it) => {
    it.effect("a repeated seeded request is a hit: identical audio, no semantic stage; a restart still hits", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "bark-audio-cache-" })
        const text = "Hello there. How are you?"
        const engine = yield* engineWith(dir)
        const first = yield* speak(engine, text, { seed: 4, voice: "v2/en_speaker_0" })
        assert.strictEqual(first.cache.metadata["result"], "miss")
        assert.isTrue(first.ran("semantic"))
        const second = yield* speak(engine, text, { seed: 4, voice: "v2/en_speaker_0" })
        assert.strictEqual(second.cache.metadata["result"], "hit")
        assert.isFalse(second.ran("semantic"))
        assert.isTrue(bytes(second.synthesis.audio).equals(bytes(first.synthesis.audio)))
        assert.deepStrictEqual(second.synthesis.chunks, first.synthesis.chunks)

        const restarted = yield* speak(yield* engineWith(dir), text, { seed: 4, voice: "v2/en_speaker_0" })
        assert.strictEqual(restarted.cache.metadata["result"], "hit")
        assert.isTrue(bytes(restarted.synthesis.audio).equals(bytes(first.synthesis.audio)))

        const otherSeed = yield* speak(engine, text, { seed: 5, voice: "v2/en_speaker_0" })
        assert.strictEqual(otherSeed.cache.metadata["result"], "miss")
        const otherRecipe = yield* speak(engine, text, { seed: 4, voice: "v2/en_speaker_0", synthesis: "draft" })
        assert.strictEqual(otherRecipe.cache.metadata["result"], "miss")
      }))

    it.effect("a seedless request is not cached", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "bark-audio-cache-" })
        const engine = yield* engineWith(dir)
        const seedless = yield* speak(engine, "Hello there.", {})
        assert.strictEqual(seedless.cache.outcome, "skipped")
        assert.include(seedless.cache.skipReason ?? "", "no seed")
        assert.deepStrictEqual(yield* fs.readDirectory(dir), [])
      }))

    it.effect("a damaged entry is generated again, with a warning, and stored again", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "bark-audio-cache-" })
        const engine = yield* engineWith(dir)
        const first = yield* speak(engine, "Hello there.", { seed: 9 })
        const key = String(first.cache.metadata["key"])
        const file = path.join(dir, key.slice(0, 2), `${key}.wav`)
        const stored = yield* fs.readFile(file)
        yield* fs.writeFile(file, stored.subarray(0, stored.length - 100))
        const again = yield* speak(engine, "Hello there.", { seed: 9 })
        assert.strictEqual(again.cache.metadata["result"], "miss")
        assert.strictEqual(again.cache.outcome, "warned")
        assert.isTrue(again.ran("semantic"))
        assert.isTrue(bytes(again.synthesis.audio).equals(bytes(first.synthesis.audio)))
        const third = yield* speak(engine, "Hello there.", { seed: 9 })
        assert.strictEqual(third.cache.metadata["result"], "hit")
      }))

    it.effect("a full cache evicts the least recently used entry", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "bark-audio-cache-" })
        const probe = yield* speak(yield* engineWith(dir), "Hello there.", { seed: 1 })
        const entry = probe.synthesis.audio.length * 4 + 4096
        // room for one entry and a half: the second evicts the first
        const engine = yield* engineWith(dir, Math.round(entry * 1.5))
        yield* speak(engine, "Good morning.", { seed: 1 })
        const evicted = yield* speak(engine, "Hello there.", { seed: 1 })
        assert.strictEqual(evicted.cache.metadata["result"], "miss")
      }))
  })
})
