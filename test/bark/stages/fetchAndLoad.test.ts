import { NodeServices } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Context, Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { BarkEngine } from "../../../src/bark/engine/BarkEngine.ts"
import { subModelGraph } from "../../../src/bark/graphs.ts"
import { ConvertedModel, ModelFiles } from "../../../src/bark/services.ts"
import * as CacheDirs from "../../../src/bark/stages/cacheDirs.ts"
import * as FetchWeights from "../../../src/bark/stages/fetchWeights.ts"
import * as Ready from "../../../src/bark/stages/ready.ts"
import * as SafeLoad from "../../../src/bark/stages/safeLoad.ts"
import * as Pipeline from "../../../src/pipeline/Pipeline.ts"
import * as Runner from "../../../src/pipeline/Runner.ts"
import startup from "../../../pipelines/startup.ts"
import { tinyBarkRepo, withoutVoices } from "../../support/barkRepo.ts"
import { makeFakeHub } from "../../support/fakeHub.ts"
import { testEngineOptions } from "../engine/tinyModel.ts"

const REPO = "test-org/tiny-bark"
const VOICE = "v2/en_speaker_1"

const recipe = Pipeline.make("weights", "cache, fetch and load").pipe(
  Pipeline.add(CacheDirs.stage),
  Pipeline.add(FetchWeights.stage),
  Pipeline.add(SafeLoad.stage)
)

/** The startup recipe on the CPU, generation capped for random weights (which never emit EOS). */
const cappedStartup = startup.pipe(Pipeline.replace("ready", Ready.make(testEngineOptions)))
const cpu = { BARK_DEVICE: "cpu", BARK_INTRA_OP_THREADS: "1" }

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "bark-fetch-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const run = (config: Record<string, string>, p: Pipeline.Pipeline<any, any> = recipe) =>
  Effect.scoped(Runner.run(p, { config }))

const setup = (weights: "safetensors" | "torch") =>
  Effect.gen(function*() {
    const hub = yield* makeFakeHub
    const repo = yield* tinyBarkRepo({ weights })
    const commit = hub.publish(REPO, { files: repo.files, lfs: ["model.safetensors", "pytorch_model.bin"] })
    const cache = yield* tempDir
    const config = { BARK_MODEL: REPO, BARK_CACHE_DIR: cache, HF_ENDPOINT: hub.url, BARK_VOICES: VOICE }
    return { hub, repo, commit, cache, config }
  })

const byStage = (report: { results: ReadonlyArray<{ stage: string }> }, stage: string) =>
  report.results.find((r) => r.stage === stage) as (typeof report.results)[number] & {
    outcome: string
    metadata: Record<string, unknown>
    skipReason?: string
    warnings: ReadonlyArray<{ message: string; remediation?: string }>
    error?: { tag: string; message: string; remediation: string }
  }

layer(NodeServices.layer, { excludeTestServices: true })("fetch-weights and safe-load", (it) => {
  it.effect("downloads a Bark repo into the HF cache, loads it, and a second run is a cache hit", () =>
    Effect.gen(function*() {
      const { hub, repo, commit, cache, config } = yield* setup("safetensors")
      const first = yield* run(config)
      const fetched = byStage(first.report, "fetch-weights")
      assert.strictEqual(fetched.outcome, "succeeded")
      assert.strictEqual(fetched.metadata["commit"], commit)
      assert.strictEqual(fetched.metadata["cacheHits"], 0)
      const files = Context.get(first.context, ModelFiles)
      assert.strictEqual(files.dir, path.join(cache, "hub", "models--test-org--tiny-bark", "snapshots", commit))
      assert.include(files.files, `speaker_embeddings/${VOICE}_fine_prompt.npy`)
      const loaded = byStage(first.report, "safe-load")
      assert.strictEqual(loaded.metadata["format"], "safetensors")
      assert.strictEqual(loaded.metadata["tensors"], repo.tensors.size)
      assert.isAbove(loaded.metadata["parameters"] as number, 0)
      assert.strictEqual(loaded.metadata["graphCache"], "miss")
      const converted = Context.get(first.context, ConvertedModel)
      assert.isFalse(converted.cached)
      assert.strictEqual(converted.sha256, files.weightsSha256, "the hub's LFS id is the checkpoint's identity: no hashing")
      assert.isFalse(loaded.metadata["hashed"] as boolean)
      for (const graph of Object.values(converted.graphs)) {
        assert.isTrue(graph.startsWith(path.join(cache, "bark-pipeline", "graphs", converted.key) + path.sep))
        assert.isTrue(fs.existsSync(graph))
      }

      hub.clearRequests()
      const second = yield* run(config)
      assert.strictEqual(byStage(second.report, "fetch-weights").metadata["cacheHits"], files.files.length)
      assert.strictEqual(hub.requests.filter((r) => r.path.includes("/resolve/")).length, 0, "no file is fetched again")
      const again = byStage(second.report, "safe-load")
      assert.strictEqual(again.outcome, "skipped", "the converted model is in the graph cache")
      assert.include(again.skipReason ?? "", "graph cache hit")
      assert.isUndefined(again.metadata["format"], "the checkpoint is not opened")
      const cached = Context.get(second.context, ConvertedModel)
      assert.isTrue(cached.cached)
      assert.deepStrictEqual({ ...cached, cached: false }, converted)
    }))

  it.effect("loads a torch pytorch_model.bin through the restricted unpickler", () =>
    Effect.gen(function*() {
      const { repo, config } = yield* setup("torch")
      const ready = yield* run(config)
      const loaded = byStage(ready.report, "safe-load")
      assert.strictEqual(loaded.metadata["format"], "torch")
      assert.strictEqual(loaded.metadata["file"], "pytorch_model.bin")
      assert.strictEqual(loaded.metadata["tensors"], repo.tensors.size)
      assert.isFalse(loaded.metadata["hashed"] as boolean)
      // the tensors reach the cached graphs unchanged: the same bytes as the graph built straight from them
      const converted = Context.get(ready.context, ConvertedModel)
      const expected = yield* subModelGraph("semantic", repo.tensors, converted.config)
      const dir = path.dirname(converted.graphs.semantic)
      assert.isTrue(fs.readFileSync(converted.graphs.semantic).equals(expected.model))
      const weights = fs.readFileSync(path.join(dir, expected.externalData[0]!.path))
      assert.isTrue(weights.equals(Buffer.concat(expected.externalData[0]!.parts)))
    }))

  it.effect("offline: a cold cache is fatal and names the missing files; a warm cache works without the network", () =>
    Effect.gen(function*() {
      const { hub, config } = yield* setup("safetensors")
      const cold = yield* Effect.flip(run({ ...config, HF_HUB_OFFLINE: "1" }))
      assert.strictEqual(cold.stage, "fetch-weights")
      assert.strictEqual(cold.errorTag, "HubError")
      assert.include(cold.message, "config.json")
      // Nothing cached says which weights the repo has: both are named, safetensors first, not a guess.
      assert.include(cold.message, "model.safetensors (or pytorch_model.bin when it has no safetensors)")
      assert.include(cold.remediation, "HF_HUB_OFFLINE")
      yield* run(config)
      hub.clearRequests()
      const warm = yield* run({ ...config, HF_HUB_OFFLINE: "1" })
      assert.strictEqual(byStage(warm.report, "safe-load").outcome, "skipped") // a graph cache hit
      assert.strictEqual(hub.requests.length, 0)
    }))

  it.effect("BARK_FORCE_DOWNLOAD fetches the files again", () =>
    Effect.gen(function*() {
      const { hub, config } = yield* setup("safetensors")
      yield* run(config)
      hub.clearRequests()
      const forced = yield* run({ ...config, BARK_FORCE_DOWNLOAD: "True" })
      assert.strictEqual(byStage(forced.report, "fetch-weights").metadata["cacheHits"], 0)
      assert.isAbove(hub.fileRequests("model.safetensors").length, 0)
    }))

  it.effect("BARK_VOICES=all fetches every voice preset the repo lists; a list fetches only those", () =>
    Effect.gen(function*() {
      const { repo, config } = yield* setup("safetensors")
      const listed = Object.keys(repo.files).filter((f) => f.startsWith("speaker_embeddings/")).sort()
      const all = yield* run({ ...config, BARK_VOICES: "all" })
      const fetched = Context.get(all.context, ModelFiles).files.filter((f) => f.startsWith("speaker_embeddings/"))
      assert.deepStrictEqual([...fetched].sort(), listed)
      assert.sameMembers(byStage(all.report, "fetch-weights").metadata["voices"] as Array<string>, ["v2/en_speaker_0", VOICE])

      const one = yield* run({ ...config, BARK_VOICES: ` ${VOICE} ,` })
      assert.deepStrictEqual(byStage(one.report, "fetch-weights").metadata["voices"], [VOICE])
    }))

  it.effect("a local model directory skips the hub; an incomplete one is fatal with what is missing", () =>
    Effect.gen(function*() {
      const { hub, repo, cache } = yield* setup("safetensors")
      const dir = yield* tempDir
      for (const [rel, data] of Object.entries(repo.files)) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
        fs.writeFileSync(path.join(dir, rel), data)
      }
      const ready = yield* run({ BARK_MODEL: dir, BARK_CACHE_DIR: cache, HF_ENDPOINT: hub.url })
      const fetched = byStage(ready.report, "fetch-weights")
      assert.strictEqual(fetched.outcome, "skipped")
      assert.include(fetched.skipReason ?? "", "local directory")
      assert.strictEqual(hub.requests.length, 0)
      assert.strictEqual(Context.get(ready.context, ModelFiles).weightsFile, "model.safetensors")

      fs.rmSync(path.join(dir, "model.safetensors"))
      const failed = yield* Effect.flip(run({ BARK_MODEL: dir, BARK_CACHE_DIR: cache }))
      assert.strictEqual(failed.stage, "fetch-weights")
      assert.include(failed.message, "lacks model.safetensors (or pytorch_model.bin)")
    }))

  it.effect("corrupt weights and a pickle naming a disallowed global are fatal in safe-load, with a remediation", () =>
    Effect.gen(function*() {
      const { repo, cache } = yield* setup("safetensors")
      const dir = yield* tempDir
      fs.writeFileSync(path.join(dir, "config.json"), repo.files["config.json"]!)
      const truncated = repo.files["model.safetensors"]!.subarray(0, 5000)
      fs.writeFileSync(path.join(dir, "model.safetensors"), truncated)
      const corrupt = yield* Effect.flip(run({ BARK_MODEL: dir, BARK_CACHE_DIR: cache }))
      assert.strictEqual(corrupt.stage, "safe-load")
      assert.strictEqual(corrupt.errorTag, "CheckpointError")
      assert.isAbove(corrupt.remediation.length, 10)

      fs.rmSync(path.join(dir, "model.safetensors"))
      const evil = fs.readFileSync(new URL("../../fixtures/checkpoint/evil_os_system.pt", import.meta.url))
      fs.writeFileSync(path.join(dir, "pytorch_model.bin"), evil)
      const rejected = yield* Effect.flip(run({ BARK_MODEL: dir, BARK_CACHE_DIR: cache }))
      assert.strictEqual(rejected.stage, "safe-load")
      assert.include(rejected.message, "os.system")
    }))

  it.effect("a checkpoint that is not a Hugging Face BarkModel is fatal and says how to get one", () =>
    Effect.gen(function*() {
      const { cache } = yield* setup("safetensors")
      const dir = yield* tempDir
      const repo = yield* tinyBarkRepo({ weights: "safetensors" })
      fs.writeFileSync(path.join(dir, "config.json"), repo.files["config.json"]!)
      fs.copyFileSync(new URL("../../fixtures/checkpoint/state_dict.pt", import.meta.url), path.join(dir, "pytorch_model.bin"))
      const failed = yield* Effect.flip(run({ BARK_MODEL: dir, BARK_CACHE_DIR: cache }))
      assert.strictEqual(failed.errorTag, "NotABarkCheckpoint")
      assert.include(failed.remediation, "suno/bark-small")
    }))

  it.effect("a repo without speaker_embeddings/ starts with a warning and speaks without a voice; a named voice is fatal", () =>
    Effect.gen(function*() {
      const { hub, repo, cache } = yield* setup("safetensors")
      const bare = "test-org/tiny-bark-novoices"
      hub.publish(bare, { files: withoutVoices(repo.files), lfs: ["model.safetensors"] })
      const config = { BARK_MODEL: bare, BARK_CACHE_DIR: cache, HF_ENDPOINT: hub.url, ...cpu }

      const started = yield* Runner.run(cappedStartup, { config })
      const fetched = byStage(started.report, "fetch-weights")
      assert.strictEqual(fetched.outcome, "warned")
      assert.deepStrictEqual(fetched.metadata["missingVoices"], ["v2/en_speaker_6"])
      assert.deepStrictEqual(fetched.metadata["voices"], [])
      assert.include(fetched.warnings[0]!.message, `${bare} at revision main lacks the default voice "v2/en_speaker_6"`)
      assert.include(fetched.warnings[0]!.message, "no voice prompts (no speaker_embeddings/)")
      assert.include(fetched.warnings[0]!.message, "Synthesis without a voice prompt still works")
      assert.include(fetched.warnings[0]!.remediation ?? "", ".npz")
      assert.notInclude(Context.get(started.context, ModelFiles).files, "speaker_embeddings_path.json")
      assert.strictEqual(byStage(started.report, "ready").outcome, "warned") // the model lists no voices
      const engine = Context.get(started.context, BarkEngine)
      assert.deepStrictEqual(engine.voices, [])
      const spoken = yield* engine.synthesize("Hello there.", { seed: 3 })
      assert.isAbove(spoken.audio.length, 0)
      const unknown = yield* Effect.flip(engine.synthesize("Hello there.", { voice: "v2/en_speaker_6" }))
      assert.strictEqual(unknown.reason, "unknown-voice")

      hub.clearRequests()
      const named = yield* Effect.flip(run({ ...config, BARK_VOICES: "v2/en_speaker_6" }))
      assert.strictEqual(named.stage, "fetch-weights")
      assert.strictEqual(named.errorTag, "VoiceNotFound")
      assert.include(named.message, `BARK_VOICES names "v2/en_speaker_6", which ${bare} at revision main lacks`)
      assert.include(named.message, "no voice prompts")
      assert.include(named.remediation, "unset BARK_VOICES")
      assert.isFalse(hub.requests.some((r) => r.path.includes("/resolve/")), "nothing is downloaded")
    }).pipe(Effect.scoped), 60_000)

  it.effect("a repo with other voices: the default is a warning (also offline); a named missing voice lists the repo's", () =>
    Effect.gen(function*() {
      const { hub, config } = yield* setup("safetensors")
      const { BARK_VOICES: _, ...unset } = config
      const first = yield* run(unset)
      const fetched = byStage(first.report, "fetch-weights")
      assert.strictEqual(fetched.outcome, "warned")
      assert.strictEqual(byStage(first.report, "safe-load").outcome, "succeeded")
      assert.include(fetched.warnings[0]!.message, "has the voices v2/en_speaker_0, v2/en_speaker_1")
      assert.include(fetched.warnings[0]!.remediation ?? "", "set BARK_VOICES")
      const files = Context.get(first.context, ModelFiles).files
      assert.include(files, "speaker_embeddings_path.json")
      assert.isFalse(files.some((f) => f.startsWith("speaker_embeddings/")))

      const offline = yield* run({ ...unset, HF_HUB_OFFLINE: "1" })
      assert.strictEqual(byStage(offline.report, "fetch-weights").outcome, "warned")
      assert.include(byStage(offline.report, "fetch-weights").warnings[0]!.message, "the cached snapshot of")

      hub.clearRequests()
      const named = yield* Effect.flip(run({ ...config, BARK_VOICES: `v2/en_speaker_6,${VOICE}` }))
      assert.strictEqual(named.errorTag, "VoiceNotFound")
      assert.include(named.message, `"v2/en_speaker_6", which ${REPO} at revision main lacks`)
      assert.include(named.message, "it has the voices v2/en_speaker_0, v2/en_speaker_1")
      assert.notInclude(named.message, VOICE + "\"")
      assert.include(named.remediation, "v2/en_speaker_0")
      assert.isFalse(hub.requests.some((r) => r.path.includes("/resolve/")), "nothing is downloaded")
    }))

  it.effect("a local model directory without voices loads; a voice named in BARK_VOICES is fatal", () =>
    Effect.gen(function*() {
      const { repo, cache } = yield* setup("safetensors")
      const dir = yield* tempDir
      for (const [rel, data] of Object.entries(withoutVoices(repo.files))) fs.writeFileSync(path.join(dir, rel), data)
      const started = yield* Runner.run(cappedStartup, { config: { BARK_MODEL: dir, BARK_CACHE_DIR: cache, ...cpu } })
      assert.strictEqual(byStage(started.report, "fetch-weights").outcome, "skipped")
      const engine = Context.get(started.context, BarkEngine)
      assert.deepStrictEqual(engine.voices, [])
      assert.isAbove((yield* engine.synthesize("Hi.", { seed: 1 })).audio.length, 0)

      const named = yield* Effect.flip(run({ BARK_MODEL: dir, BARK_CACHE_DIR: cache, BARK_VOICES: VOICE }))
      assert.strictEqual(named.stage, "fetch-weights")
      assert.strictEqual(named.errorTag, "VoiceNotFound")
      assert.include(named.message, `the model directory ${dir} lacks; it lists no voices (speaker_embeddings_path.json)`)
    }).pipe(Effect.scoped), 60_000)
})
