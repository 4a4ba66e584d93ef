/**
 * Stage `compile`: onnxruntime's graph optimisations at the highest level
 * ("all": operator fusions and the CPU's memory layouts), the optimised
 * models saved in the graph cache so the next start loads them as they are,
 * then a warm-up run of every sub-model. Readiness waits for the warm-up.
 *
 * Each sub-model's session is swapped for the optimised one in place (one at
 * a time, so memory never holds two copies of all four). A sub-model that
 * cannot be optimised keeps its preload session, with a warning. Disabled
 * (BARK_ENABLE_COMPILE=false, or the deprecated BARK_ENABLE_TORCH_COMPILE)
 * the stage is skipped and preload's models pass through.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schema, type Scope } from "effect"
import type { Json } from "effect/Schema"
import { InferenceBackend } from "../../onnx/InferenceBackend.ts"
import type { InferenceError } from "../../onnx/InferenceError.ts"
import { runtimeInfo } from "../../onnx/runtimeInfo.ts"
import type { SessionPool, SessionSpec } from "../../onnx/SessionPool.ts"
import * as Stage from "../../pipeline/Stage.ts"
import { StageFatal } from "../../pipeline/StageFatal.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { BARK_CODEBOOKS } from "../codec/config.ts"
import * as GraphCache from "../graphCache.ts"
import { sessionsOf } from "../loadModels.ts"
import type { BarkModels } from "../models.ts"
import { CompiledModels, LoadedWeights, PreloadedModels } from "../services.ts"
import * as Settings from "../settings.ts"
import { CacheDirs } from "./cacheDirs.ts"
import { graphCacheOf, graphKeyInputs } from "./preload.ts"

export class OptimizeError extends Schema.TaggedError<OptimizeError>()("OptimizeError", {
  model: Schema.String,
  message: Schema.String,
  remediation: Schema.String
}) {}

export interface OptimizeRequest {
  readonly model: string
  /** The pool holding the model's session; the optimiser swaps it with `replace`. */
  readonly sessions: SessionPool
  /** How the model's session is created now (preload's graph). */
  readonly current: SessionSpec
  readonly keyInputs: GraphCache.GraphKeyInputs
  readonly cache: GraphCache.GraphCache
}

export interface Optimized {
  /** The optimised model came from the graph cache. */
  readonly fromCache: boolean
  /** Why a cached optimised model was not used (it was replaced). */
  readonly invalidEntry?: string
  /** Why the optimised model could not be stored (it is used all the same). */
  readonly storeError?: string
}

/**
 * Optimises one sub-model in place. On failure the model must be left as it
 * was (`SessionPool.replace` guarantees that).
 */
export type Optimizer = (request: OptimizeRequest) => Effect.Effect<Optimized, OptimizeError | InferenceError, Scope.Scope>

/** The default optimiser: onnxruntime level "all", the optimised model saved in (or loaded from) the graph cache. */
export const ortOptimizer: Optimizer = ({ cache, current, keyInputs, model, sessions }) =>
  Effect.gen(function*() {
    const version = (yield* runtimeInfo).version
    const inputs: GraphCache.GraphKeyInputs = { ...keyInputs, optimization: { level: "all", onnxruntime: version, ...GraphCache.machine() } }
    const key = GraphCache.graphKey(inputs)
    const found = yield* cache.lookup(key)
    // A saved optimised model is loaded as it is: optimising it again would change nothing.
    const saved = (source: string) => ({ source, options: { ...current.options, graphOptimizationLevel: "disabled" as const } })
    if (found._tag === "Hit") {
      yield* sessions.replace(model, saved(found.modelPath))
      return { fromCache: true }
    }
    const invalid = found._tag === "Invalid" ? { invalidEntry: found.reason } : {}
    const staging = yield* cache.stage(key, inputs).pipe(
      Effect.mapError((e) => new OptimizeError({ model, message: e.message, remediation: e.remediation }))
    )
    yield* sessions.replace(model, {
      source: current.source,
      options: { ...current.options, graphOptimizationLevel: "all", optimizedModelFilePath: staging.modelPath }
    })
    return yield* staging.commit.pipe(
      Effect.andThen((modelPath) => sessions.respec(model, saved(modelPath))),
      Effect.as({ fromCache: false, ...invalid }),
      // The optimised session runs; later sessions (offload) optimise again instead of loading a saved copy.
      Effect.catch((e) =>
        Effect.as(
          sessions.respec(model, { source: current.source, options: { ...current.options, graphOptimizationLevel: "all" } }),
          { fromCache: false, ...invalid, storeError: e.message }
        )
      )
    )
  })

const time = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration]) => Math.round(Duration.toMillis(duration)))

/**
 * One short run of every sub-model: a prefill and a step of the GPTs, one
 * fine pass, a four-frame codec decode. Returns milliseconds per sub-model.
 */
export const warmUp = Effect.fn("warmUp")(function*(models: BarkModels) {
  const gpt = (m: BarkModels["semantic"]) => Effect.flatMap(m.prefill(Int32Array.of(0, 1, 2)), (p) => m.step(p.state, 3))
  const frames = 4
  return {
    semantic: yield* time(gpt(models.semantic)),
    coarse: yield* time(gpt(models.coarse)),
    fine: yield* time(models.fine.run(new Int32Array(models.fine.windowSize * models.fine.nCodes), models.fine.nCodes - 1)),
    codec: yield* time(models.codec.decode(new Int32Array(BARK_CODEBOOKS * frames), frames))
  }
})

const deprecation = (source: string) =>
  source === "BARK_ENABLE_TORCH_COMPILE"
    ? StageReporter.warn(
      "BARK_ENABLE_TORCH_COMPILE is deprecated: it is read only while BARK_ENABLE_COMPILE is unset",
      "rename it to BARK_ENABLE_COMPILE (same values)"
    )
    : Effect.void

/** The stage; `optimize` replaces the optimiser (a recipe's own, or a failing one in tests). */
export const make = (options: { readonly optimize?: Optimizer } = {}) => {
  const optimize = options.optimize ?? ortOptimizer
  return Stage.make({
    name: "compile",
    purpose: "optimise the graphs, cache the optimised models and warm every sub-model up",
    provides: CompiledModels,
    needs: [PreloadedModels, LoadedWeights, InferenceBackend, CacheDirs],
    skip: {
      when: Effect.map(Settings.enableCompile, ({ enabled, source }) =>
        enabled ? undefined : `${source}=false: the preloaded models are served unoptimised, without warm-up`),
      value: Effect.gen(function*() {
        yield* deprecation((yield* Settings.enableCompile).source)
        const preloaded = yield* PreloadedModels
        return CompiledModels.of({ models: preloaded.models, optimized: false, warmedUp: false })
      })
    },
    build: Effect.gen(function*() {
      yield* deprecation((yield* Settings.enableCompile).source)
      const preloaded = yield* PreloadedModels
      const weights = yield* LoadedWeights
      const backend = yield* InferenceBackend
      const cache = yield* graphCacheOf(yield* CacheDirs)
      const sessions = sessionsOf(preloaded.models)
      const optimized: Record<string, Json> = {}
      const previous = new Map<string, SessionSpec>()

      if (sessions === undefined) {
        yield* StageReporter.warn(
          "the preloaded models were not made by loadModels, so their sessions cannot be optimised; they are only warmed up",
          "build the models with loadModels (src/bark/loadModels.ts) in the preload stage to get optimised sessions"
        )
      } else {
        const models = sessions.models()
        for (const [i, model] of models.entries()) {
          const current = sessions.spec(model)!
          const result = yield* Effect.result(Effect.scoped(optimize({
            model,
            sessions,
            current,
            keyInputs: graphKeyInputs(weights, backend, model),
            cache
          })))
          if (result._tag === "Failure") {
            yield* StageReporter.warn(
              `${model} could not be optimised and runs unoptimised: ${result.failure.message}`,
              result.failure.remediation
            )
          } else {
            previous.set(model, current)
            const { fromCache, invalidEntry, storeError } = result.success
            optimized[model] = fromCache ? "from cache" : storeError === undefined ? "optimised and cached" : "optimised, not cached"
            if (invalidEntry !== undefined) {
              yield* StageReporter.warn(
                `the cached optimised ${model} could not be trusted (${invalidEntry}); it was removed and made again`,
                "nothing to do if it happens once; if it recurs, check the disk under BARK_CACHE_DIR"
              )
            }
            if (storeError !== undefined) {
              yield* StageReporter.warn(storeError, "check free space and permissions under BARK_CACHE_DIR")
            }
          }
          yield* StageReporter.progress({ unit: "sub-models", done: i + 1, total: models.length, label: model })
        }
      }

      const cacheHits = Object.values(optimized).filter((v) => v === "from cache").length
      yield* StageReporter.annotate({
        optimizationLevel: "all",
        optimized,
        graphCacheHits: cacheHits,
        graphCacheMisses: Object.keys(optimized).length - cacheHits
      })

      let warm = yield* Effect.result(warmUp(preloaded.models))
      if (warm._tag === "Failure" && sessions !== undefined && previous.size > 0) {
        yield* StageReporter.warn(
          `the optimised models failed their warm-up (${warm.failure.message}); serving the unoptimised ones`,
          "set BARK_ENABLE_COMPILE=false to skip optimisation, and report the message"
        )
        for (const [model, spec] of previous) yield* Effect.ignore(sessions.replace(model, spec))
        previous.clear()
        yield* StageReporter.annotate({ optimized: {} })
        warm = yield* Effect.result(warmUp(preloaded.models))
      }
      if (warm._tag === "Failure") {
        return yield* new StageFatal({
          message: `the models failed their warm-up run: ${warm.failure.message}`,
          remediation: warm.failure.remediation,
          errorTag: warm.failure._tag
        })
      }
      yield* StageReporter.annotate({ warmUpMs: warm.success })
      const all = sessions !== undefined && previous.size === sessions.models().length
      return CompiledModels.of({ models: preloaded.models, optimized: all, warmedUp: true })
    })
  })
}

export const stage = make()
