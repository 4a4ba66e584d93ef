/**
 * Convert once, load lean (issue 12), with real files and real onnxruntime
 * sessions on tiny random checkpoints: safe-load converts the checkpoint into
 * the graph cache once; a warm start opens the sessions from the cache
 * without reading the checkpoint; a damaged entry is detected, removed and
 * converted again with a warning; an interrupted conversion leaves nothing
 * visible; the entry is keyed by the checkpoint's content, not its path; the
 * worker engine opens the same converted files itself.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import startup from "../../../pipelines/startup.ts"
import { BarkEngine } from "../../../src/bark/engine/BarkEngine.ts"
import { decodeBarkConfig } from "../../../src/bark/config.ts"
import { convertOnce } from "../../../src/bark/convert.ts"
import * as GraphCache from "../../../src/bark/graphCache.ts"
import { SUB_MODELS } from "../../../src/bark/models.ts"
import { makeRandomCheckpoint, presets, type RandomCheckpoint } from "../../../src/dev/randomCheckpoint.ts"
import { writeBarkModelDir } from "../../../src/dev/modelDir.ts"
import { ConvertedModel, PreloadedModels } from "../../../src/bark/services.ts"
import * as Ready from "../../../src/bark/stages/ready.ts"
import * as Pipeline from "../../../src/pipeline/Pipeline.ts"
import * as Runner from "../../../src/pipeline/Runner.ts"
import * as MemorySink from "../../../src/pipeline/sinks/memory.ts"
import { testEngineOptions } from "../engine/tinyModel.ts"
import {
  countingBackend,
  graphEntries,
  graphsListing,
  graphsRoot,
  localFiles,
  modelRecipe,
  speak,
  tempCache,
  tempDir
} from "./modelStages.ts"

/** The startup recipe on the CPU, generation capped for random weights (which never emit EOS). */
const cappedStartup = startup.pipe(Pipeline.replace("ready", Ready.make(testEngineOptions)))
const cpu = { BARK_DEVICE: "cpu", BARK_INTRA_OP_THREADS: "1" }
const TEXT = "Hello there."
const REQUEST = { seed: 3, voice: "v2/en_speaker_0" }

/** `checkpoint` written as a model directory (two voices) in a temporary folder. */
const modelDir = (checkpoint: RandomCheckpoint) =>
  Effect.gen(function*() {
    const dir = yield* tempDir("bark-convert-")
    yield* writeBarkModelDir(dir, checkpoint, { voices: 2 })
    return dir
  })

const tinyCheckpoint = (seed = presets.tiny.seed) => makeRandomCheckpoint({ ...presets.tiny, seed })

/** `checkpoint` without the tensors `drop` selects. */
const without = (checkpoint: RandomCheckpoint, drop: (name: string) => boolean): RandomCheckpoint => ({
  config: checkpoint.config,
  tensors: new Map([...checkpoint.tensors].filter(([name]) => !drop(name)))
})

const resultOf = (report: { readonly results: ReadonlyArray<{ readonly stage: string }> }, stage: string) =>
  report.results.find((r) => r.stage === stage) as Runner.Ready<unknown>["report"]["results"][number]

/** The startup recipe in its own scope: the safe-load and preload results, the converted model, one synthesis. */
const start = (dir: string, cacheDir: string, config: Record<string, string> = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const ready = yield* Runner.run(cappedStartup, { config: { BARK_MODEL: dir, BARK_CACHE_DIR: cacheDir, ...cpu, ...config } })
    const engine = Context.get(ready.context, BarkEngine)
    return {
      report: ready.report,
      safeLoad: resultOf(ready.report, "safe-load"),
      preload: resultOf(ready.report, "preload"),
      converted: Context.get(ready.context, ConvertedModel),
      preloaded: Context.get(ready.context, PreloadedModels),
      audio: (yield* engine.synthesize(TEXT, REQUEST)).audio
    }
  }))

/** `file`'s mtime in whole milliseconds, as Effect's FileSystem (and so the graph cache) sees it: from the nanoseconds, truncated. */
const mtimeMs = (file: string) => Number(fs.statSync(file, { bigint: true }).mtimeNs / 1_000_000n)

/**
 * Overwrites `file` with other bytes of the same size and gives it back its
 * mtime (to the millisecond: the resolution of the checks). The new mtime is
 * set half a millisecond in, so that utimes' float seconds cannot round it
 * into the previous millisecond.
 */
const scramble = (file: string, at: (bytes: Buffer) => void) => {
  const size = fs.statSync(file).size
  const before = mtimeMs(file)
  const bytes = fs.readFileSync(file)
  at(bytes)
  fs.writeFileSync(file, bytes)
  fs.utimesSync(file, new Date(), (before + 0.5) / 1000)
  assert.strictEqual(fs.statSync(file).size, size)
  assert.strictEqual(mtimeMs(file), before)
}

describe("safe-load: convert once, load lean", () => {
  it.effect("a warm start opens the sessions from the graph cache without reading the checkpoint", () =>
    Effect.gen(function*() {
      const checkpoint = yield* tinyCheckpoint()
      const dir = yield* modelDir(checkpoint)
      const cacheDir = yield* tempCache
      const cold = yield* start(dir, cacheDir)
      assert.strictEqual(cold.safeLoad.outcome, "succeeded")
      assert.strictEqual(cold.safeLoad.metadata["graphCache"], "miss")
      assert.isTrue(cold.safeLoad.metadata["hashed"] as boolean, "a local checkpoint is hashed the first time it is seen")
      assert.strictEqual(cold.safeLoad.metadata["format"], "safetensors")
      assert.hasAllKeys(cold.safeLoad.metadata["convertMs"], [...SUB_MODELS])
      assert.deepStrictEqual(graphEntries(cacheDir), [path.join(graphsRoot(cacheDir), cold.converted.key)])
      for (const model of SUB_MODELS) {
        const sub = path.join(graphsRoot(cacheDir), cold.converted.key, model)
        assert.sameMembers(fs.readdirSync(sub), ["model.onnx", "weights.bin"])
      }
      assert.strictEqual(cold.report.results.at(-1)!.outcome, "succeeded")

      // Garbage of the same size, with the old mtime: a start that read the checkpoint could not produce the same audio.
      const weights = path.join(dir, "model.safetensors")
      scramble(weights, (bytes) => bytes.fill(0x5a))
      const warm = yield* start(dir, cacheDir)
      assert.strictEqual(warm.safeLoad.outcome, "skipped")
      assert.include(warm.safeLoad.skipReason ?? "", "graph cache hit")
      assert.strictEqual(warm.safeLoad.metadata["graphCache"], "hit")
      assert.isFalse(warm.safeLoad.metadata["hashed"] as boolean, "the remembered hash is used: size and mtime are unchanged")
      assert.isUndefined(warm.safeLoad.metadata["format"], "the checkpoint was not opened")
      assert.isUndefined(warm.safeLoad.metadata["convertMs"])
      assert.isTrue(warm.converted.cached)
      assert.strictEqual(warm.converted.key, cold.converted.key)
      assert.deepStrictEqual(warm.preload.metadata["sessionsOpen"], [...SUB_MODELS])
      assert.strictEqual(warm.report.results.at(-1)!.stage, "ready")
      assert.strictEqual(warm.report.results.at(-1)!.outcome, "succeeded")
      assert.deepStrictEqual(warm.audio, cold.audio)

      // With the identity known (as the hub's LFS id is), the checkpoint need not exist at all.
      fs.rmSync(weights)
      const { backend, counts } = countingBackend()
      const gone = yield* Effect.scoped(Effect.gen(function*() {
        const files = { ...localFiles(dir), weightsSha256: cold.converted.sha256 }
        const ready = yield* Runner.run(modelRecipe(files, backend), { config: { BARK_CACHE_DIR: cacheDir } })
        const models = Context.get(ready.context, PreloadedModels).models!
        return { report: ready.report, audio: (yield* speak(models)).audio }
      }))
      assert.strictEqual(resultOf(gone.report, "safe-load").outcome, "skipped")
      assert.strictEqual(resultOf(gone.report, "compile").outcome, "succeeded")
      assert.strictEqual(counts.created, 4)
      assert.isTrue(gone.audio.every(Number.isFinite))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 60_000)

  it.effect("a damaged cache file is detected, removed and converted again with a warning; synthesis still works", () =>
    Effect.gen(function*() {
      const dir = yield* modelDir(yield* tinyCheckpoint())
      const cacheDir = yield* tempCache
      const cold = yield* start(dir, cacheDir)
      const entry = path.join(graphsRoot(cacheDir), cold.converted.key)
      const semanticWeights = path.join(entry, "semantic", "weights.bin")

      // Truncated: the size no longer matches the manifest.
      const size = fs.statSync(semanticWeights).size
      fs.truncateSync(semanticWeights, size >> 1)
      const truncated = yield* start(dir, cacheDir)
      assert.strictEqual(truncated.safeLoad.outcome, "warned")
      assert.strictEqual(truncated.safeLoad.metadata["graphCache"], "invalid")
      assert.lengthOf(truncated.safeLoad.warnings, 1)
      assert.include(truncated.safeLoad.warnings[0]!.message, `semantic/weights.bin has ${size >> 1} bytes, the manifest says ${size}`)
      assert.include(truncated.safeLoad.warnings[0]!.message, "converted again")
      assert.isDefined(truncated.safeLoad.warnings[0]!.remediation)
      assert.strictEqual(fs.statSync(semanticWeights).size, size, "the entry was written again")
      assert.strictEqual(truncated.report.results.at(-1)!.outcome, "succeeded")
      assert.deepStrictEqual(truncated.audio, cold.audio)

      // One byte flipped, size and mtime kept: the O(files) check cannot tell; BARK_VERIFY_CACHE=1 re-hashes and can.
      scramble(path.join(entry, "codec", "weights.bin"), (bytes) => void (bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff))
      const trusted = yield* Effect.scoped(Runner.run(modelRecipe(localFiles(dir), countingBackend().backend, { compile: false }), {
        config: { BARK_CACHE_DIR: cacheDir }
      }))
      assert.strictEqual(resultOf(trusted.report, "safe-load").outcome, "skipped")
      const verified = yield* start(dir, cacheDir, { BARK_VERIFY_CACHE: "1" })
      assert.strictEqual(verified.safeLoad.outcome, "warned")
      assert.strictEqual(verified.safeLoad.metadata["verified"], true)
      assert.include(verified.safeLoad.warnings[0]!.message, "codec/weights.bin does not match its sha256")
      assert.deepStrictEqual(verified.audio, cold.audio)

      // A verified hit re-hashes everything and trusts an intact entry.
      const again = yield* start(dir, cacheDir, { BARK_VERIFY_CACHE: "1" })
      assert.strictEqual(again.safeLoad.outcome, "skipped")
      assert.deepStrictEqual(again.audio, cold.audio)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 60_000)

  it.effect("a folder without a manifest is never an entry: it is removed and the model converted, without a warning", () =>
    Effect.gen(function*() {
      const dir = yield* modelDir(yield* tinyCheckpoint())
      const cacheDir = yield* tempCache
      const cold = yield* start(dir, cacheDir)
      fs.rmSync(path.join(graphsRoot(cacheDir), cold.converted.key, "manifest.json"))
      const again = yield* start(dir, cacheDir)
      assert.strictEqual(again.safeLoad.outcome, "succeeded")
      assert.strictEqual(again.safeLoad.metadata["graphCache"], "miss")
      assert.isTrue(fs.existsSync(path.join(graphsRoot(cacheDir), cold.converted.key, "manifest.json")))
      assert.deepStrictEqual(again.audio, cold.audio)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 60_000)

  it.effect("an interrupted conversion leaves no entry and no staging folder; the next start converts from scratch", () =>
    Effect.gen(function*() {
      const checkpoint = yield* tinyCheckpoint()
      const config = yield* decodeBarkConfig(checkpoint.config)
      // The codec's quantizer is there (the layout check passes), its decoder is not: semantic, coarse and fine convert, then codec fails.
      const broken = without(checkpoint, (name) => name.startsWith("codec_model.decoder."))
      const dir = yield* modelDir(broken)
      const cacheDir = yield* tempCache
      const sink = MemorySink.make()
      const failed = yield* Effect.flip(Effect.scoped(Runner.run(modelRecipe(localFiles(dir), countingBackend().backend), {
        config: { BARK_CACHE_DIR: cacheDir },
        sinks: [sink],
        progressIntervalMs: 0
      })))
      assert.strictEqual(failed.stage, "safe-load")
      assert.include(failed.message, "codec_model.decoder")
      assert.isNotEmpty(failed.remediation)
      const converted = sink.events.flatMap((e) => (e.type === "progress" && e.stage === "safe-load" ? [e.label] : []))
      assert.deepStrictEqual(converted, ["semantic", "coarse", "fine"])
      assert.deepStrictEqual(graphsListing(cacheDir), [], "no <key> folder and no .staging-* folder")

      // The same through convertOnce: the staging folder held the converted sub-models, then vanished with the failure.
      const ownDir = path.join(cacheDir, "bark-pipeline")
      const seen: Array<ReadonlyArray<string>> = []
      const error = yield* Effect.flip(convertOnce({
        weightsPath: path.join(dir, "model.safetensors"),
        config,
        ownDir,
        onConverted: () => Effect.sync(() => void seen.push(graphsListing(cacheDir)))
      }))
      assert.isDefined(error)
      assert.lengthOf(seen, 3)
      assert.isTrue(seen.every((names) => names.length === 1 && names[0]!.startsWith(".staging-")))
      assert.deepStrictEqual(graphsListing(cacheDir), [])

      // Fixed, the model converts and starts.
      yield* writeBarkModelDir(dir, checkpoint, { voices: 2 })
      const fixed = yield* start(dir, cacheDir)
      assert.strictEqual(fixed.safeLoad.metadata["graphCache"], "miss")
      assert.deepStrictEqual(graphsListing(cacheDir), [fixed.converted.key])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 60_000)

  it.effect("weights that do not match the config are fatal in safe-load, naming the tensor, and leave nothing behind", () =>
    Effect.gen(function*() {
      const dir = yield* modelDir(without(yield* tinyCheckpoint(), (name) => name === "coarse_acoustics.lm_head.weight"))
      const cacheDir = yield* tempCache
      const failed = yield* Effect.flip(Effect.scoped(Runner.run(modelRecipe(localFiles(dir), countingBackend().backend), {
        config: { BARK_CACHE_DIR: cacheDir }
      })))
      assert.strictEqual(failed.stage, "safe-load")
      assert.strictEqual(failed.errorTag, "GptWeightsError")
      assert.include(failed.message, "coarse_acoustics.lm_head.weight")
      assert.isNotEmpty(failed.remediation)
      assert.deepStrictEqual(graphsListing(cacheDir), [])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 60_000)

  it.effect("the entry is keyed by the checkpoint's content: a copy elsewhere hits it, another checkpoint gets its own", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempCache
      const first = yield* tinyCheckpoint(1)
      const a = yield* modelDir(first)
      const copy = yield* modelDir(first)
      const other = yield* modelDir(yield* tinyCheckpoint(2))
      const { backend } = countingBackend()
      const load = (dir: string) =>
        Effect.scoped(Effect.map(
          Runner.run(modelRecipe(localFiles(dir), backend, { compile: false }), { config: { BARK_CACHE_DIR: cacheDir } }),
          (ready) => ({ result: resultOf(ready.report, "safe-load"), converted: Context.get(ready.context, ConvertedModel) })
        ))
      const original = yield* load(a)
      const copied = yield* load(copy)
      assert.strictEqual(copied.result.outcome, "skipped")
      assert.isTrue(copied.result.metadata["hashed"] as boolean, "a new path is hashed once")
      assert.strictEqual(copied.converted.key, original.converted.key)
      const another = yield* load(other)
      assert.strictEqual(another.result.metadata["graphCache"], "miss")
      assert.notStrictEqual(another.converted.key, original.converted.key)
      assert.sameMembers([...graphsListing(cacheDir)], [original.converted.key, another.converted.key])

      const base = {
        checkpointSha256: "a".repeat(64),
        config: original.converted.config,
        dtype: "fp32",
        builderVersion: GraphCache.GRAPH_BUILDER_VERSION
      } as const
      const key = GraphCache.graphKey(base)
      assert.notStrictEqual(GraphCache.graphKey({ ...base, checkpointSha256: "b".repeat(64) }), key)
      const otherConfig = { ...base.config, semantic_config: { ...base.config.semantic_config, block_size: 512 } }
      assert.notStrictEqual(GraphCache.graphKey({ ...base, config: otherConfig }), key, "another config makes other graphs")
      assert.notStrictEqual(GraphCache.graphKey({ ...base, builderVersion: "0" }), key)
      assert.notStrictEqual(GraphCache.graphKey({ ...base, dtype: "q4" }), key, "each dtype has its own graphs")
      const { checkpointSha256, ...rest } = base
      assert.strictEqual(GraphCache.graphKey({ ...rest, checkpointSha256 }), key, "property order does not matter")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 60_000)

  it.effect("with BARK_ENGINE=worker preload opens no session and the worker synthesises the in-process engine's audio", () =>
    Effect.gen(function*() {
      const dir = yield* modelDir(yield* tinyCheckpoint())
      const cacheDir = yield* tempCache
      const local = yield* start(dir, cacheDir)
      assert.deepStrictEqual(local.preload.metadata["sessionsOpen"], [...SUB_MODELS])
      const worker = yield* start(dir, cacheDir, { BARK_ENGINE: "worker" })
      assert.strictEqual(worker.safeLoad.outcome, "skipped")
      assert.deepStrictEqual(worker.preload.metadata["sessionsOpen"], [])
      assert.isUndefined(worker.preloaded.models)
      assert.strictEqual(resultOf(worker.report, "ready").metadata["engine"], "worker")
      assert.deepStrictEqual(worker.audio, local.audio)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 60_000)
})
