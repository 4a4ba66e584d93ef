/**
 * Stage `ready`: the last stage of the startup recipe. Builds the synthesis
 * engine (tokenizer, voices, long-form generation) on the compiled models;
 * once it has run the pipeline's report says the service is ready, and the
 * pipeline's context provides `BarkEngine` to whoever serves it.
 *
 * `BARK_ENGINE=worker` runs generation on a worker thread instead, which
 * opens its own sessions from the converted model's files (preload opened
 * none on the main thread), so that the main thread (an HTTP server) keeps
 * answering while a model runs.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { InferenceBackend } from "../../onnx/InferenceBackend.ts"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { BarkEngine } from "../engine/BarkEngine.ts"
import { type EngineOptions, makeBarkEngine } from "../engine/inProcess.ts"
import { makeWorkerEngine } from "../engine/workerEngine.ts"
import { StageFatal } from "../../pipeline/StageFatal.ts"
import { CompiledModels, ConvertedModel, ModelFiles, PreloadedModels } from "../services.ts"
import * as Settings from "../settings.ts"
import { CacheDirs } from "./cacheDirs.ts"

const buildEngine = (options: EngineOptions) =>
  Effect.gen(function*() {
    const files = yield* ModelFiles
    const kind = yield* Settings.engineKind
    const { models, warmedUp } = yield* CompiledModels
    if (kind === "in-process") {
      if (models === undefined) {
        return yield* new StageFatal({
          message: "the compile stage provided no models for the in-process engine",
          remediation: "run the recipe's preload stage with BARK_ENGINE=in-process, or set BARK_ENGINE=worker",
          errorTag: "NoModels"
        })
      }
      return { kind: "in-process", engine: yield* makeBarkEngine(models, files.dir, options), metadata: {} }
    }
    const converted = yield* ConvertedModel
    const preloaded = yield* PreloadedModels
    const backend = yield* InferenceBackend
    const compile = yield* Settings.enableCompile
    const engine = yield* makeWorkerEngine({
      modelDir: files.dir,
      config: converted.config,
      graphs: converted.graphs,
      backend: backend.name === "cuda" ? "cuda" : "cpu",
      ...(backend.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: backend.intraOpNumThreads }),
      sessionOptions: preloaded.sessionOptions,
      offload: preloaded.offload,
      warmUp: compile.enabled && !preloaded.offload && !warmedUp,
      engine: options
    })
    return { kind, engine, metadata: { opensSessions: "worker thread" } }
  })

/** The stage with engine options of the recipe's own (e.g. a longer pause between chunks). */
export const make = (options: EngineOptions = {}) =>
  Stage.make({
    name: "ready",
    purpose: "build the synthesis engine on the compiled models and mark the service ready",
    provides: BarkEngine,
    needs: [CompiledModels, PreloadedModels, ConvertedModel, ModelFiles, InferenceBackend],
    build: Effect.gen(function*() {
      const { dtype } = yield* ConvertedModel
      const { model, commit, revision } = yield* ModelFiles
      const audioCache = yield* Settings.audioCache(Option.map(yield* Effect.serviceOption(CacheDirs), (dirs) => dirs.own))
      const built = yield* buildEngine({
        maxBatch: yield* Settings.maxBatch,
        synthesis: yield* Settings.synthesis,
        identity: { model, revision: commit ?? revision ?? null, dtype },
        ...(audioCache === undefined ? {} : { audioCache }),
        ...options
      })
      const { kind, metadata } = built
      const engine: BarkEngine["Service"] = { ...built.engine, dtype, model }
      yield* StageReporter.annotate({
        engine: kind,
        dtype,
        voices: engine.voices.length,
        sampleRate: engine.sampleRate,
        maxBatch: options.maxBatch ?? (yield* Settings.maxBatch),
        synthesis: options.synthesis ?? (yield* Settings.synthesis),
        audioCache: audioCache === undefined ? "off" : audioCache.dir,
        ...metadata
      })
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
