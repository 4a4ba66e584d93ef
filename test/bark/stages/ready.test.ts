/**
 * The `ready` stage in a recipe on a tiny model: it provides a working
 * BarkEngine and records voices and sample rate; in-process it runs on the
 * sessions preload opened; BARK_ENGINE=worker gives the worker engine, which
 * opens its own sessions from the converted graphs (preload opened none on
 * the main thread), with the same audio; a model without voices warns; a
 * recipe without the models it needs does not run.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, FileSystem } from "effect"
import { BarkEngine } from "../../../src/bark/engine/BarkEngine.ts"
import { sessionsOf } from "../../../src/bark/loadModels.ts"
import { CompiledModels, PreloadedModels } from "../../../src/bark/services.ts"
import * as Ready from "../../../src/bark/stages/ready.ts"
import * as Pipeline from "../../../src/pipeline/Pipeline.ts"
import * as Runner from "../../../src/pipeline/Runner.ts"
import { localRecipe } from "../engine/localRecipe.ts"
import { tinyModelDir } from "../engine/tinyModel.ts"

const run = (dir: string, config: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const { report, context } = yield* Runner.run(localRecipe, { config: { BARK_MODEL: dir, ...config } })
    const result = (stage: string) => report.results.find((r) => r.stage === stage)!
    return {
      ready: result("ready"),
      preload: result("preload"),
      preloaded: Context.get(context, PreloadedModels),
      compiled: Context.get(context, CompiledModels),
      engine: Context.get(context, BarkEngine)
    }
  })

describe("ready stage", () => {
  it.live("provides the engine in-process on preload's sessions, or on a worker that opens its own, with the same audio", () =>
    Effect.gen(function*() {
      const dir = yield* tinyModelDir
      const local = yield* run(dir)
      assert.strictEqual(local.ready.outcome, "succeeded")
      assert.deepStrictEqual(local.ready.metadata, {
        engine: "in-process",
        dtype: "fp32",
        voices: 2,
        sampleRate: 24_000,
        maxBatch: 1,
        synthesis: "synthesis",
        audioCache: "off"
      })
      assert.strictEqual(local.compiled.models, local.preloaded.models)
      const sessions = sessionsOf(local.compiled.models!)!
      assert.strictEqual((yield* sessions.stats).open.length, 4)
      const requests = [
        { sampler: "argmax" as const, voice: "v2/en_speaker_0" },
        { seed: 5, voice: "v2/en_speaker_1" }
      ]
      const expected = []
      for (const options of requests) {
        const audio = (yield* local.engine.synthesize("Hello there.", options)).audio
        assert.isAbove(audio.length, 0)
        expected.push(audio)
      }

      const worker = yield* run(dir, { BARK_ENGINE: "worker" })
      assert.strictEqual(worker.ready.outcome, "succeeded")
      assert.strictEqual(worker.ready.metadata["engine"], "worker")
      assert.strictEqual(worker.ready.metadata["opensSessions"], "worker thread")
      assert.deepStrictEqual(worker.preload.metadata["sessionsOpen"], [], "the main thread opens no session")
      assert.isUndefined(worker.preloaded.models)
      assert.isUndefined(worker.compiled.models)
      assert.deepStrictEqual(worker.engine.voices, local.engine.voices)
      for (const [i, options] of requests.entries()) {
        const actual = yield* worker.engine.synthesize("Hello there.", options)
        assert.deepStrictEqual(actual.audio, expected[i])
      }
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 60_000)

  it.live("warns when the model directory lists no voices", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tinyModelDir
      yield* fs.remove(`${dir}/speaker_embeddings_path.json`)
      const { ready, engine } = yield* run(dir)
      assert.strictEqual(ready.outcome, "warned")
      assert.include(ready.warnings[0]!.message, "no voices")
      assert.deepStrictEqual(engine.voices, [])
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)), 30_000)

  it.effect("cannot run in a recipe that lacks the stages it needs", () =>
    Effect.gen(function*() {
      const recipe = Pipeline.make("bare", "ready alone").pipe(Pipeline.add(Ready.stage))
      const failure = yield* Effect.flip(Runner.run(recipe as Pipeline.Pipeline<BarkEngine, never>))
      assert.strictEqual(failure.errorTag, "PipelineOrder")
      assert.include(failure.message, "bark-pipeline/CompiledModels")
    }).pipe(Effect.scoped))
})
