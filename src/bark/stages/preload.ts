/**
 * Stage `preload`: the four sub-model graphs, from the graph cache or built
 * from the loaded weights (and stored for the next start), and their sessions
 * on the chosen device, released when the pipeline run ends.
 *
 * A cache entry that does not verify is rebuilt with a warning, never used.
 * With SUNO_OFFLOAD_CPU=True sessions are created when a sub-model runs and
 * released when another one needs to, so memory holds one at a time.
 *
 * Sessions use onnxruntime's "basic" optimisations; the compile stage
 * replaces them with fully optimised ones.
 *
 * @since 0.1.0
 */
import { Effect, Path } from "effect"
import type { Json } from "effect/Schema"
import type { GraphSource, ModelSource } from "../../onnx/InferenceBackend.ts"
import { InferenceBackend } from "../../onnx/InferenceBackend.ts"
import { InferenceError } from "../../onnx/InferenceError.ts"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import * as GraphCache from "../graphCache.ts"
import { loadModels, sessionsOf, SUB_MODELS } from "../loadModels.ts"
import { LoadedWeights, PreloadedModels } from "../services.ts"
import * as Settings from "../settings.ts"
import { CacheDirs } from "./cacheDirs.ts"

/** The key inputs of `graph` built from `weights` for `backend`, unoptimised. */
export const graphKeyInputs = (
  weights: typeof LoadedWeights.Service,
  backend: typeof InferenceBackend.Service,
  graph: string
): GraphCache.GraphKeyInputs => ({
  checkpointSha256: weights.sha256,
  graph,
  dtype: "float32",
  executionProvider: backend.name,
  builderVersion: GraphCache.GRAPH_BUILDER_VERSION
})

/** The graph cache of a run: `{CacheDirs.own}/graphs`. */
export const graphCacheOf = Effect.fn("graphCacheOf")(function*(dirs: typeof CacheDirs.Service) {
  const path = yield* Path.Path
  return yield* GraphCache.make(path.join(dirs.own, "graphs"))
})

/** Reads cached graphs (given by path) into memory for onnxruntime, each time a session is created. */
export const loadFrom = (cache: GraphCache.GraphCache) => (source: ModelSource, model: string) =>
  typeof source === "string"
    ? Effect.mapError(cache.read(source), (e) => new InferenceError({ model, message: e.message, remediation: e.remediation }))
    : Effect.succeed(source)

export const stage = Stage.make({
  name: "preload",
  purpose: "build or load the sub-model graphs and create their sessions on the device",
  provides: PreloadedModels,
  needs: [LoadedWeights, InferenceBackend, CacheDirs],
  build: Effect.gen(function*() {
    const weights = yield* LoadedWeights
    const backend = yield* InferenceBackend
    const reporter = yield* StageReporter.StageReporter
    const offload = yield* Settings.offloadCpu
    const cache = yield* graphCacheOf(yield* CacheDirs)
    const graphs: Record<string, Json> = {}
    const counts = { hits: 0, misses: 0, invalid: 0 }

    const graphSource: GraphSource = (graph, build) =>
      Effect.gen(function*() {
        const inputs = graphKeyInputs(weights, backend, graph)
        const key = GraphCache.graphKey(inputs)
        const found = yield* cache.lookup(key)
        if (found._tag === "Hit") {
          counts.hits++
          graphs[graph] = { source: "cache", key, bytes: found.bytes }
          return found.modelPath
        }
        counts.misses++
        if (found._tag === "Invalid") {
          counts.invalid++
          yield* reporter.warn(
            `the cached ${graph} graph could not be trusted (${found.reason}); it was removed and is rebuilt`,
            "nothing to do if it happens once; if it recurs, check the disk under BARK_CACHE_DIR"
          )
        }
        const t0 = performance.now()
        const built = yield* build
        const buildMs = Math.round(performance.now() - t0)
        return yield* cache.store(key, inputs, built).pipe(
          Effect.tap(() => Effect.sync(() => void (graphs[graph] = { source: "built", key, buildMs }))),
          Effect.catch((e) =>
            Effect.as(
              Effect.andThen(
                reporter.warn(e.message, e.remediation),
                Effect.sync(() => void (graphs[graph] = { source: "built, not cached", buildMs }))
              ),
              built as ModelSource
            )
          )
        )
      })

    const models = yield* loadModels(weights, backend, {
      graphSource,
      load: loadFrom(cache),
      mode: offload ? "offload" : "resident",
      sessionOptions: { graphOptimizationLevel: "basic" },
      onLoaded: (model, done) => reporter.progress({ unit: "sub-models", done, total: SUB_MODELS.length, label: model })
    })
    const stats = yield* sessionsOf(models)!.stats
    yield* StageReporter.annotate({
      provider: backend.name,
      offload,
      optimizationLevel: "basic",
      graphCacheDir: cache.root,
      graphCacheHits: counts.hits,
      graphCacheMisses: counts.misses,
      graphCacheInvalid: counts.invalid,
      graphs,
      sessionsOpen: [...stats.open]
    })
    return PreloadedModels.of({ models, offload, graphDir: cache.root })
  })
})
