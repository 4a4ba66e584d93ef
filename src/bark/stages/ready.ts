/**
 * Stage `ready`: the last stage of the startup recipe. Builds the synthesis
 * engine (tokenizer, voices, long-form generation) on the compiled models;
 * once it has run the pipeline's report says the service is ready, and the
 * pipeline's context provides `BarkEngine` to whoever serves it.
 *
 * `BARK_ENGINE=worker` runs generation on a worker thread instead, which
 * loads its own sessions from the model files, so that the main thread (an
 * HTTP server) keeps answering while a model runs. Once the worker is up the
 * main thread's sessions are released, so the models are not held twice.
 *
 * @since 0.1.0
 */
import { Config, Effect, Option } from "effect"
import { InferenceBackend } from "../../onnx/InferenceBackend.ts"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { BarkEngine } from "../engine/BarkEngine.ts"
import { type EngineOptions, makeBarkEngine } from "../engine/inProcess.ts"
import { makeWorkerEngine } from "../engine/workerEngine.ts"
import { sessionsOf } from "../loadModels.ts"
import { CompiledModels, ModelFiles } from "../services.ts"

/** BARK_ENGINE: `in-process` (default) or `worker` (generation on a worker thread). */
export const engineKind = Config.Literals(["in-process", "worker"], "BARK_ENGINE").pipe(
  Config.withDefault("in-process" as const)
)

const intraOpThreads = Config.option(Config.Int("BARK_INTRA_OP_THREADS"))

/**
 * Closes the sessions of the main thread's models, which the worker engine
 * does not use; returns how many were open. Models not made by `loadModels`
 * have none.
 */
const releaseMainThreadSessions = Effect.gen(function*() {
  const { models } = yield* CompiledModels
  const pool = sessionsOf(models)
  return pool === undefined ? 0 : yield* pool.releaseAll
})

const buildEngine = (options: EngineOptions) =>
  Effect.gen(function*() {
    const files = yield* ModelFiles
    const kind = yield* engineKind
    if (kind === "in-process") {
      const { models } = yield* CompiledModels
      return { kind, engine: yield* makeBarkEngine(models, files.dir, options), metadata: {} }
    }
    const backend = yield* InferenceBackend
    const threads = yield* intraOpThreads
    const engine = yield* makeWorkerEngine({
      modelDir: files.dir,
      weightsFile: files.weightsFile,
      backend: backend.name === "cuda" ? "cuda" : "cpu",
      ...(Option.isSome(threads) ? { intraOpNumThreads: threads.value } : {}),
      engine: options
    })
    return { kind, engine, metadata: { releasedSessions: yield* releaseMainThreadSessions } }
  })

/** The stage with engine options of the recipe's own (e.g. a longer pause between chunks). */
export const make = (options: EngineOptions = {}) =>
  Stage.make({
    name: "ready",
    purpose: "build the synthesis engine on the compiled models and mark the service ready",
    provides: BarkEngine,
    needs: [CompiledModels, ModelFiles, InferenceBackend],
    build: Effect.gen(function*() {
      const { kind, engine, metadata } = yield* buildEngine(options)
      yield* StageReporter.annotate({ engine: kind, voices: engine.voices.length, sampleRate: engine.sampleRate, ...metadata })
      if (engine.voices.length === 0) {
        yield* StageReporter.warn(
          "the model directory lists no voices: synthesis without a voice uses no history prompt",
          "fetch the speaker embeddings with the model (BARK_VOICES), or pass the path of a suno .npz voice per request"
        )
      }
      return engine
    })
  })

export const stage = make()
