/**
 * The worker engine against the in-process engine on the same tiny model:
 * the worker opens its own sessions from the converted graphs named in its
 * spec (no weights cross threads); the same audio for a seed and for argmax,
 * chunks and progress relayed, errors carried across the thread,
 * cancellation acknowledged, and graphs that cannot be opened reported as such.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Stream } from "effect"
import type { SynthesisProgress } from "../../../src/bark/engine/BarkEngine.ts"
import { makeBarkEngine } from "../../../src/bark/engine/inProcess.ts"
import { openModelDir } from "../../../src/bark/engine/openModelDir.ts"
import { makeWorkerEngine } from "../../../src/bark/engine/workerEngine.ts"
import { decodeBarkConfig } from "../../../src/bark/config.ts"
import { makeRandomCheckpoint, presets } from "../../../src/dev/randomCheckpoint.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import { convertedModel, testOwnDir } from "./convertedModel.ts"
import { testEngineOptions, tinyModelDir } from "./tinyModel.ts"

const env = Layer.merge(NodeServices.layer, InferenceBackend.cpu({ intraOpNumThreads: 1 }))
const text = "Hello there, how are you? I am fine, thank you very much for asking me today."

describe("makeWorkerEngine", () => {
  it.live("produces the in-process engine's audio, relays progress and errors, and acknowledges cancellation", () =>
    Effect.gen(function*() {
      const dir = yield* tinyModelDir
      const local = yield* makeBarkEngine(yield* openModelDir(dir, { ownDir: yield* testOwnDir(dir) }), dir, testEngineOptions)
      const entry = yield* convertedModel(dir) // a cache hit: openModelDir converted it
      const remote = yield* makeWorkerEngine({
        modelDir: dir,
        config: entry.config,
        graphs: entry.graphs,
        backend: "cpu",
        intraOpNumThreads: 1,
        sessionOptions: { graphOptimizationLevel: "all", prepack: false, cpuMemArena: false },
        warmUp: true,
        engine: testEngineOptions
      })
      assert.deepStrictEqual(remote.voices, local.voices)
      assert.strictEqual(remote.sampleRate, local.sampleRate)

      for (const options of [{ seed: 11, voice: "v2/en_speaker_1" }, { sampler: "argmax" as const }]) {
        const expected = yield* local.synthesize(text, options)
        const progress: Array<SynthesisProgress> = []
        const actual = yield* remote.synthesize(text, { ...options, onProgress: (p) => Effect.sync(() => void progress.push(p)) })
        assert.isAbove(actual.chunks.length, 1)
        assert.deepStrictEqual(actual.chunks, expected.chunks)
        assert.deepStrictEqual(actual.audio, expected.audio)
        assert.strictEqual(actual.seed, expected.seed)
        assert.deepStrictEqual([...new Set(progress.map((p) => p.stage))], ["semantic", "coarse", "fine", "codec"])
      }

      const error = yield* Effect.flip(remote.synthesize(text, { voice: "nobody" }))
      assert.strictEqual(error._tag, "SynthesisError")
      assert.strictEqual(error.reason, "unknown-voice")
      assert.include(error.message, "v2/en_speaker_0")

      // interrupting returns once the worker has stopped; the worker then serves the next request
      const midway = yield* Deferred.make<void>()
      const fiber = yield* remote.stream(text, {
        seed: 1,
        onProgress: (p) => (p.stage === "semantic" && p.done >= 3 ? Deferred.succeed(midway, undefined) : Effect.void)
      }).pipe(Stream.runDrain, Effect.forkChild)
      yield* Deferred.await(midway)
      yield* Fiber.interrupt(fiber)
      const again = yield* remote.synthesize(text, { seed: 11, voice: "v2/en_speaker_1" })
      assert.deepStrictEqual(again.audio, (yield* local.synthesize(text, { seed: 11, voice: "v2/en_speaker_1" })).audio)
    }).pipe(Effect.provide(env)), 60_000)

  it.live("fails with what to do when the graphs cannot be opened", () =>
    Effect.gen(function*() {
      const config = yield* decodeBarkConfig((yield* makeRandomCheckpoint(presets.tiny)).config)
      const graphs = {
        semantic: "/nonexistent/graphs/semantic/model.onnx",
        coarse: "/nonexistent/graphs/coarse/model.onnx",
        fine: "/nonexistent/graphs/fine/model.onnx",
        codec: "/nonexistent/graphs/codec/model.onnx"
      }
      const error = yield* Effect.flip(makeWorkerEngine({ modelDir: "/nonexistent/bark-model", config, graphs, backend: "cpu" }))
      assert.strictEqual(error._tag, "WorkerEngineError")
      assert.include(error.message, "/nonexistent/bark-model")
      assert.include(error.message, "semantic")
      assert.isNotEmpty(error.remediation)
    }).pipe(Effect.provide(env)), 30_000)
})
