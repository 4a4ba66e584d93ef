/**
 * The offline demo: the random model directory made once and kept in the
 * cache (reused when intact, made again when damaged or made with other
 * options), and `bark-pipeline run demo` end to end as `npm start` runs it, in
 * a temporary cache and working directory — a valid WAV file and a trace whose
 * stages all succeeded, warned or were skipped.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Path } from "effect"
import * as fs from "node:fs"
import { presets } from "../../src/dev/randomCheckpoint.ts"
import * as DemoModel from "../../src/dev/demo/demoModel.ts"
import { ensureRandomModelDir } from "../../src/dev/demo/demoModelDir.ts"
import { decodeWav } from "../../src/audio/wav.ts"
import * as JsonlSink from "../../src/pipeline/sinks/jsonl.ts"
import { runCliProcess } from "../support/cli.ts"

const tempDir = FileSystem.FileSystem.use((fs) => fs.makeTempDirectoryScoped({ prefix: "bark-demo-" }))

describe("ensureRandomModelDir", () => {
  it.effect("makes the directory once, reuses it while intact, and makes it again when damaged or for other options", () =>
    Effect.gen(function*() {
      const path = yield* Path.Path
      const dir = path.join(yield* tempDir, "model")
      const first = yield* ensureRandomModelDir(dir, presets.tiny)
      assert.isTrue(first.created)
      const weights = path.join(dir, "model.safetensors")
      const bytes = fs.readFileSync(weights)

      const again = yield* ensureRandomModelDir(dir, presets.tiny)
      assert.isFalse(again.created)

      fs.truncateSync(weights, 100)
      const repaired = yield* ensureRandomModelDir(dir, presets.tiny)
      assert.isTrue(repaired.created)
      assert.include(repaired.reason, "model.safetensors has the wrong size")
      assert.isTrue(fs.readFileSync(weights).equals(bytes), "the same options make the same bytes")

      const other = yield* ensureRandomModelDir(dir, { ...presets.tiny, seed: 2 })
      assert.isTrue(other.created)
      assert.strictEqual(other.reason, "it was made with other options")
      assert.isFalse(fs.readFileSync(weights).equals(bytes))
      assert.deepStrictEqual(fs.readdirSync(path.dirname(dir)), ["model"], "no temporary folders left behind")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})

describe("the demo recipe (bark-pipeline run demo, child process)", () => {
  it.effect("makes the model in the cache, runs the real startup path and writes demo.wav and a trace in which every stage succeeded, warned or was skipped", () =>
    Effect.gen(function*() {
      const path = yield* Path.Path
      const cwd = yield* tempDir
      const cache = yield* tempDir
      const r = yield* Effect.promise(() =>
        runCliProcess(["run", "demo", "--trace", "demo-trace.jsonl", "--set", `BARK_CACHE_DIR=${cache}`], { cwd })
      )
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stderr, "random weights")
      assert.include(r.stderr, "suno/bark-small")

      const events = yield* JsonlSink.read(path.join(cwd, "demo-trace.jsonl"))
      // the demo's own stages, and inside synthesize the synthesis recipe's runs, labelled with their run
      const finished = events.flatMap((e) => (e.type === "stage-finished" && e.run === undefined ? [e.result] : []))
      assert.deepStrictEqual(finished.map((x) => x.stage), [
        "environment", "cache-dirs", "demo-model", "safe-load", "device", "preload", "compile", "ready", "synthesize"
      ])
      const synthesis = events.flatMap((e) => (e.type === "stage-finished" && e.run !== undefined ? [`${e.run} ${e.result.stage}`] : []))
      assert.deepStrictEqual(synthesis, [
        ...["normalize-text", "split", "voice", "audio-cache"].map((s) => `synthesis/prepare ${s}`),
        ...["tokenize", "semantic", "coarse", "fine", "codec", "post"].map((s) => `synthesis/chunk 1 ${s}`)
      ])
      for (const x of finished) assert.include(["succeeded", "warned", "skipped"], x.outcome, x.stage)
      const model = finished.find((x) => x.stage === "demo-model")!
      assert.strictEqual(model.outcome, "warned")
      assert.strictEqual(model.metadata["dir"], path.join(cache, "bark-pipeline", DemoModel.DEMO_MODEL_DIR))
      assert.isTrue(events.some((e) => e.type === "progress" && e.stage === "synthesize"), "token progress reached the trace")

      const wav = yield* decodeWav(fs.readFileSync(path.join(cwd, "demo.wav")))
      assert.strictEqual(wav.sampleRate, 24_000)
      assert.strictEqual(wav.channels, 1)
      assert.isAbove(wav.samples.length, 0)
      assert.isAtMost(wav.samples.length / wav.sampleRate, 4, "the engine's cap bounds random-weight generation")
      assert.isTrue(wav.samples.some((x) => x !== 0))
      assert.sameMembers(fs.readdirSync(cwd), ["demo.wav", "demo-trace.jsonl"], "no temporary file left behind")

      const again = yield* Effect.promise(() =>
        runCliProcess(["run", "demo", "--out", "other.wav", "--set", `BARK_CACHE_DIR=${cache}`], { cwd })
      )
      assert.strictEqual(again.code, 0, again.stderr)
      assert.deepStrictEqual(fs.readFileSync(path.join(cwd, "other.wav")), fs.readFileSync(path.join(cwd, "demo.wav")), "--out moves the same (seeded) audio")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 120_000)
})
