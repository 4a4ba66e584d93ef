/**
 * The serve recipe around a profile: `listen` first — the HTTP server is up
 * and answers health checks (readiness 503) while the profile's stages load
 * the models — then the profile, then `serve`, which hands the profile's
 * engine to the server. Readiness flips when the run's report arrives
 * (see ServerState).
 *
 * @since 0.1.0
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Fiber, Layer, Option, Schedule, Scope } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { createServer } from "node:http"
import { BarkEngine } from "../bark/engine/BarkEngine.ts"
import * as Pipeline from "../pipeline/Pipeline.ts"
import * as Stage from "../pipeline/Stage.ts"
import { StageFatal } from "../pipeline/StageFatal.ts"
import * as StageReporter from "../pipeline/StageReporter.ts"
import * as Jobs from "./jobStages.ts"
import * as Admission from "./Admission.ts"
import * as MemoryBudget from "../pipeline/memoryBudget.ts"
import * as MemoryMonitor from "./MemoryMonitor.ts"
import * as Metrics from "./Metrics.ts"
import * as Routes from "./routes.ts"
import * as ServerState from "./ServerState.ts"
import * as Settings from "./settings.ts"
import * as TraceStore from "./TraceStore.ts"
import { HttpListener } from "./HttpListener.ts"

export { HttpListener }

/** serve: the service, open to synthesis requests. */
export class SynthesisService extends Context.Service<SynthesisService, {
  readonly url: string
  readonly engine: BarkEngine["Service"]["kind"]
}>()("bark-pipeline/SynthesisService") {}

export const listen = Stage.make({
  name: "listen",
  purpose: "listen for HTTP requests first: health answers while the models load",
  provides: HttpListener,
  build: Effect.gen(function*() {
    const settings = yield* Settings.settings
    const state = Option.getOrElse(yield* Effect.serviceOption(ServerState.ServerState), () => ServerState.make())
    state.configure(settings.readiness)
    const outer = yield* Effect.scope
    const scope = yield* Scope.fork(outer, "sequential")
    const admission = yield* Admission.make({
      maxConcurrency: settings.maxConcurrency,
      maxQueue: settings.maxQueue,
      timeout: `${settings.requestTimeoutS} seconds`
    })
    const budget = MemoryBudget.resolve({ configuredMb: settings.memoryLimitMb, cgroupRoot: settings.cgroupRoot })
    yield* Effect.logInfo(`memory budget ${budget.limitMb} MB from ${budget.source}: ${budget.detail}`)
    const memory = yield* MemoryMonitor.start({
      limitMb: budget.limitMb,
      budgetSource: budget.source,
      warnShare: settings.memoryWarnShare,
      shedShare: settings.memoryShedShare,
      sampleMs: settings.memorySampleMs,
      growthMb: settings.memoryGrowthMb,
      growthWindowS: settings.memoryGrowthWindowS,
      warmupS: settings.memoryWarmupS,
      slowLoadS: settings.slowLoadS,
      queueWarnLength: settings.queueWarnLength,
      startup: () => {
        const report = state.report()
        return { ready: state.readiness().ready, loadMs: "durationMs" in report ? report.durationMs : undefined }
      },
      queued: admission.queued
    }).pipe(Scope.provide(scope))
    yield* Metrics.initialize
    const nodeServer = createServer()
    const traces = TraceStore.make(settings.traceKeep)
    const server = HttpRouter.serve(Routes.make({ settings, state, admission, memory, traces }), {
      disableListenLog: true,
      disableLogger: true
    }).pipe(Layer.provideMerge(NodeHttpServer.layer(() => nodeServer, {
      host: settings.host,
      port: settings.port,
      gracefulShutdownTimeout: `${settings.shutdownGraceS} seconds`
    })))
    const services = yield* Layer.buildWithScope(server, scope).pipe(
      Effect.mapError((e) =>
        new StageFatal({
          message: `cannot listen on ${settings.host}:${settings.port}: ${e.message}`,
          remediation: "pick a free port (--port, or BARK_PORT; 0 lets the OS pick) or stop the process that holds it",
          errorTag: "ListenError"
        })
      )
    )
    const url = HttpServer.formatAddress(Context.get(services, HttpServer.HttpServer).address)
    yield* StageReporter.annotate({
      url,
      ...settings,
      memoryLimitMb: budget.limitMb,
      memoryBudgetSource: budget.source,
      memoryShedShare: settings.memoryShedShare ?? null
    })
    // Node closes idle keep-alive connections only when close() is called; the ones that finish a response while
    // draining would stay open until their keep-alive timeout and hold the shutdown, so they are closed as they idle.
    const closeIdle = Effect.sync(() => nodeServer.closeIdleConnections()).pipe(
      Effect.repeat(Schedule.spaced("50 millis")),
      Effect.forkIn(outer)
    )
    const drain = Effect.suspend(() =>
      state.startDraining.pipe(
        Effect.andThen(closeIdle),
        Effect.flatMap((closing) => Scope.close(scope, Exit.void).pipe(Effect.andThen(Fiber.interrupt(closing))))
      )
    )
    return HttpListener.of({ url, state, drain })
  })
})

export const serve = Stage.make({
  name: "serve",
  purpose: "open the service to synthesis requests with the profile's engine",
  provides: SynthesisService,
  needs: [HttpListener, BarkEngine],
  build: Effect.gen(function*() {
    const listener = yield* HttpListener
    const engine = yield* BarkEngine
    yield* listener.state.publish(engine)
    yield* StageReporter.annotate({ url: listener.url, engine: engine.kind, voices: engine.voices.length })
    return SynthesisService.of({ url: listener.url, engine: engine.kind })
  })
})

/** The profile with `listen` in front of its first stage. */
const listening = (profile: Pipeline.Any): Pipeline.Any => {
  const first = profile.entries[0]
  return first === undefined ? Pipeline.add(profile, listen) : Pipeline.insertBefore(profile, first.stage.name, listen)
}

/** The serve recipe for a profile: listen, jobs, the profile's stages, serve. */
export const recipe = (profile: Pipeline.Any): Pipeline.Any =>
  listening(profile).pipe(
    Pipeline.insertAfter("listen", Jobs.jobs),
    Pipeline.add(serve),
    Pipeline.rename(`serve-${profile.name}`, `serve the ${profile.name} profile over HTTP: ${profile.description}`)
  )

/**
 * The worker recipe for a profile (`bark-pipeline worker`): listen (health
 * and metrics while the models load), the profile's stages, worker.
 */
export const workerRecipe = (profile: Pipeline.Any): Pipeline.Any =>
  listening(profile).pipe(
    Pipeline.add(Jobs.worker),
    Pipeline.rename(`worker-${profile.name}`, `take synthesis jobs with the ${profile.name} profile: ${profile.description}`)
  )
