/**
 * Runs the synthesis service for a profile: the serve recipe (listen, the
 * profile's stages, serve) with the server's state fed by the run's trace,
 * a metric registry of its own, and a drain for graceful shutdown.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Context, Effect, Layer, Metric } from "effect"
import * as Otlp from "../observability/otlp.ts"
import type * as Pipeline from "../pipeline/Pipeline.ts"
import * as Runner from "../pipeline/Runner.ts"
import type { PipelineReport } from "../pipeline/StageResult.ts"
import * as ServerState from "./ServerState.ts"
import { HttpListener, recipe, workerRecipe } from "./stages.ts"

export interface Running {
  readonly url: string
  readonly report: PipelineReport
  readonly state: ServerState.ServerStateShape
  /** Graceful stop: readiness 503, no new connections, in-flight requests finish within the grace period. */
  readonly drain: Effect.Effect<void>
}

/**
 * Starts listening, runs the profile's startup, and returns once the service
 * is up (or fails with the startup's `PipelineFailed`). The server runs until
 * the scope closes; call `drain` first for a graceful stop.
 */
export const start = (profile: Pipeline.Any, options: Runner.RunOptions = {}): Effect.Effect<Running, Runner.PipelineFailed, Scope.Scope> =>
  startRecipe(recipe(profile), options)

/** Starts a job worker for the profile (see `workerRecipe`): health and metrics over HTTP, jobs from the queue. */
export const startWorker = (profile: Pipeline.Any, options: Runner.RunOptions = {}): Effect.Effect<Running, Runner.PipelineFailed, Scope.Scope> =>
  startRecipe(workerRecipe(profile), options)

/** Runs a recipe that starts with `listen`, its state fed by the run's trace. */
const startRecipe = (pipeline: Pipeline.Any, options: Runner.RunOptions): Effect.Effect<Running, Runner.PipelineFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const state = ServerState.make()
    // OTLP export (when OTEL_EXPORTER_OTLP_ENDPOINT is set) for as long as the server runs, of this server's metrics.
    const otlp = yield* Layer.build(Otlp.layerOrWarn)
    const run = Runner.run(pipeline, { ...options, sinks: [...(options.sinks ?? []), state.sink] })
    const { context, report } = yield* run.pipe(Effect.provideService(ServerState.ServerState, state), Effect.provideContext(otlp))
    const listener = Context.get(context as Context.Context<HttpListener>, HttpListener)
    return { url: listener.url, report, state, drain: listener.drain }
  }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())) as Effect.Effect<
    Running,
    Runner.PipelineFailed,
    Scope.Scope
  >
