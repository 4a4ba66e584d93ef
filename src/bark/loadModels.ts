/**
 * The four Bark sub-models (`BarkModels`) on one inference backend, in one
 * call: `openModels` from graphs already made (the converted model's files,
 * opened by path), `buildModels` from a checkpoint's weights in memory (tests,
 * parity checks, small models).
 *
 * Sessions live in a `SessionPool`: `resident` (the default) creates all four
 * now and keeps them; `offload` (SUNO_OFFLOAD_CPU) keeps one open at a time.
 * `sessionsOf(models)` returns the pool (its stats: which sessions are open).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Weights } from "../checkpoint/Tensor.ts"
import type { InferenceBackend, ModelSource, SessionOptions } from "../onnx/InferenceBackend.ts"
import * as SessionPool from "../onnx/SessionPool.ts"
import { openCodecDecoder } from "./codec/decoder.ts"
import type { BarkConfig } from "./config.ts"
import { openCausalGpt } from "./gpt/causalLM.ts"
import { openFineLM } from "./gpt/fineLM.ts"
import { subModelGraph } from "./graphs.ts"
import type { BarkModels, SubModel } from "./models.ts"

export interface OpenModelsOptions {
  /** Default "resident". */
  readonly mode?: SessionPool.PoolMode
  /** Options for every session: threads, optimisation level, prepacking. */
  readonly sessionOptions?: Omit<SessionOptions, "model">
  /** Called after each sub-model is ready. */
  readonly onLoaded?: (model: SubModel, done: number) => Effect.Effect<void>
}

const pools = new WeakMap<BarkModels, SessionPool.SessionPool>()

/** The session pool behind models made by `openModels`; undefined for models made otherwise (in-memory fakes). */
export const sessionsOf = (models: BarkModels): SessionPool.SessionPool | undefined => pools.get(models)

/** Opens the four sub-models from their graphs on `backend`; sessions are released with the scope. */
export const openModels = Effect.fn("openModels")(function*(
  config: BarkConfig,
  sources: Readonly<Record<SubModel, ModelSource>>,
  backend: typeof InferenceBackend.Service,
  options: OpenModelsOptions = {}
) {
  const pool = yield* SessionPool.make(backend, { mode: options.mode ?? "resident" })
  let done = 0
  // Every session gets the shared options, through a view of the pool.
  const on: typeof InferenceBackend.Service = {
    ...pool.backend,
    createSession: (source, sessionOptions) => pool.backend.createSession(source, { ...options.sessionOptions, ...sessionOptions })
  }
  const loaded = <A, E, R>(model: SubModel, make: Effect.Effect<A, E, R>) =>
    Effect.tap(make, () => options.onLoaded?.(model, ++done) ?? Effect.void)

  const models: BarkModels = {
    semantic: yield* loaded("semantic", openCausalGpt("semantic", config.semantic_config, sources.semantic, on)),
    coarse: yield* loaded("coarse", openCausalGpt("coarse", config.coarse_acoustics_config, sources.coarse, on)),
    fine: yield* loaded("fine", openFineLM(config.fine_acoustics_config, sources.fine, on)),
    codec: yield* loaded("codec", openCodecDecoder(config.codec_config, sources.codec, on))
  }
  pools.set(models, pool)
  return models
})

/** Builds the graphs of `weights` in memory and opens them (see `openModels`). */
export const buildModels = Effect.fn("buildModels")(function*(
  weights: { readonly config: BarkConfig; readonly tensors: Weights },
  backend: typeof InferenceBackend.Service,
  options: OpenModelsOptions = {}
) {
  const graph = (model: SubModel) => subModelGraph(model, weights.tensors, weights.config)
  const sources = {
    semantic: yield* graph("semantic"),
    coarse: yield* graph("coarse"),
    fine: yield* graph("fine"),
    codec: yield* graph("codec")
  }
  return yield* openModels(weights.config, sources, backend, options)
})
