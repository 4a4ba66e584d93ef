/**
 * The four Bark sub-models (`BarkModels`) from a checkpoint's weights on one
 * inference backend, in one call.
 *
 * Sessions live in a `SessionPool`: `resident` (the default) creates all four
 * now and keeps them; `offload` (SUNO_OFFLOAD_CPU) keeps one open at a time.
 * Graphs come from `graphSource` when given (the graph cache), else are built
 * in memory. `sessionsOf(models)` returns the pool, for stages that swap
 * sessions later (compile).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Weights } from "../checkpoint/Tensor.ts"
import type { GraphSource, InferenceBackend, ModelSource, SessionOptions } from "../onnx/InferenceBackend.ts"
import type { InferenceError } from "../onnx/InferenceError.ts"
import * as SessionPool from "../onnx/SessionPool.ts"
import { makeCodecDecoder } from "./codec/decoder.ts"
import type { BarkConfig } from "./config.ts"
import { makeCausalGpt } from "./gpt/causalLM.ts"
import { makeFineLM } from "./gpt/fineLM.ts"
import { causalGptWeights, fineGptWeights } from "./gpt/weights.ts"
import type { BarkModels } from "./models.ts"

/** The sub-models in generation order; also their session (and graph) names. */
export const SUB_MODELS = ["semantic", "coarse", "fine", "codec"] as const
export type SubModel = typeof SUB_MODELS[number]

export interface LoadModelsOptions {
  /** Where graphs come from (e.g. the graph cache). Default: built in memory. */
  readonly graphSource?: GraphSource
  /** Default "resident". */
  readonly mode?: SessionPool.PoolMode
  /** Turns a graph source into what the backend loads, each time a session is created (e.g. reads a cached graph). */
  readonly load?: (source: ModelSource, model: string) => Effect.Effect<ModelSource, InferenceError>
  /** Options for every session, e.g. the optimisation level. */
  readonly sessionOptions?: Omit<SessionOptions, "model">
  /** Called after each sub-model is ready. */
  readonly onLoaded?: (model: SubModel, done: number) => Effect.Effect<void>
}

const pools = new WeakMap<BarkModels, SessionPool.SessionPool>()

/** The session pool behind models made by `loadModels`; undefined for models made otherwise (in-memory fakes). */
export const sessionsOf = (models: BarkModels): SessionPool.SessionPool | undefined => pools.get(models)

/** Builds the four sub-models of `weights` on `backend`; sessions are released with the scope. */
export const loadModels = Effect.fn("loadModels")(function*(
  weights: { readonly config: BarkConfig; readonly tensors: Weights },
  backend: typeof InferenceBackend.Service,
  options: LoadModelsOptions = {}
) {
  const { config, tensors } = weights
  const pool = yield* SessionPool.make(backend, {
    mode: options.mode ?? "resident",
    ...(options.load === undefined ? {} : { load: options.load }),
    ...(options.sessionOptions === undefined ? {} : { sessionOptions: options.sessionOptions })
  })
  const on = pool.backend
  const graph = options.graphSource === undefined ? {} : { graphSource: options.graphSource }
  let done = 0
  const loaded = <A, E, R>(model: SubModel, make: Effect.Effect<A, E, R>) =>
    Effect.tap(make, () => options.onLoaded?.(model, ++done) ?? Effect.void)

  const models: BarkModels = {
    semantic: yield* loaded(
      "semantic",
      Effect.flatMap(causalGptWeights(tensors, "semantic", config.semantic_config), (w) => makeCausalGpt("semantic", w, on, graph))
    ),
    coarse: yield* loaded(
      "coarse",
      Effect.flatMap(
        causalGptWeights(tensors, "coarse_acoustics", config.coarse_acoustics_config),
        (w) => makeCausalGpt("coarse", w, on, graph)
      )
    ),
    fine: yield* loaded("fine", Effect.flatMap(fineGptWeights(tensors, config.fine_acoustics_config), (w) => makeFineLM(w, on, graph))),
    codec: yield* loaded("codec", makeCodecDecoder(tensors, config.codec_config, on, graph))
  }
  pools.set(models, pool)
  return models
})
