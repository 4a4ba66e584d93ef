/**
 * What the service knows about itself: the startup report as it grows (fed
 * by a trace sink of the startup run), the engine once the profile has
 * provided it, and whether it is draining for shutdown. Readiness is decided
 * here, strict or lenient as in Triton: strict needs every stage succeeded
 * or skipped, lenient also accepts warned stages.
 *
 * @since 0.1.0
 */
import { Context, Effect, Metric } from "effect"
import type { BarkEngine } from "../bark/engine/BarkEngine.ts"
import type { JobQueue } from "../jobs/JobQueue.ts"
import type { JobWorker } from "../jobs/JobWorker.ts"
import type { ResultsStore } from "../jobs/ResultsStore.ts"
import type { PipelineReport, StageResult } from "../pipeline/StageResult.ts"
import type { TraceSink } from "../pipeline/TraceSink.ts"
import * as Metrics from "./Metrics.ts"
import type { ReadinessPolicy } from "./settings.ts"

export interface Readiness {
  readonly ready: boolean
  /** "starting", "ready", "not-ready" (strict policy, warned stages), "failed" or "draining". */
  readonly status: "starting" | "ready" | "not-ready" | "failed" | "draining"
  readonly reason: string
}

/** The job queue as this process uses it: every replica enqueues and reads; a worker also takes jobs. */
export interface Jobs {
  readonly queue: JobQueue
  readonly store: ResultsStore
  /** Set in a worker: readiness then also needs the queue's Redis. */
  readonly worker?: JobWorker | undefined
}

export interface ServerStateShape {
  readonly policy: () => ReadinessPolicy
  /** Sets the readiness policy (the listen stage does, from BARK_READINESS). */
  readonly configure: (policy: ReadinessPolicy) => void
  /** Records the startup run's events (stage results, the final report). */
  readonly sink: TraceSink
  /** Called by the serve recipe's last stage with the engine the profile provided. */
  readonly publish: (engine: BarkEngine["Service"]) => Effect.Effect<void>
  /** Called by the jobs and worker stages with the queue this process uses. */
  readonly attachJobs: (jobs: Jobs) => void
  readonly jobs: () => Jobs | undefined
  readonly startDraining: Effect.Effect<void>
  readonly engine: () => BarkEngine["Service"] | undefined
  readonly readiness: () => Readiness
  /** The report when startup finished; the stages so far while it runs. */
  readonly report: () => PipelineReport | { readonly pipeline: string; readonly stages: ReadonlyArray<string>; readonly results: ReadonlyArray<StageResult> }
}

export class ServerState extends Context.Service<ServerState, ServerStateShape>()("bark-pipeline/ServerState") {}

export const make = (): ServerStateShape => {
  let policy: ReadinessPolicy = "lenient"
  let pipeline = ""
  let stages: ReadonlyArray<string> = []
  const results: Array<StageResult> = []
  let report: PipelineReport | undefined
  let engine: BarkEngine["Service"] | undefined
  let jobs: Jobs | undefined
  let draining = false

  const readiness = (): Readiness => {
    if (draining) return { ready: false, status: "draining", reason: "the service is shutting down" }
    if (report === undefined) {
      return { ready: false, status: "starting", reason: `startup: ${results.length} of ${stages.length} stages done` }
    }
    const failed = report.results.find((r) => r.outcome === "failed")
    if (failed !== undefined) {
      return { ready: false, status: "failed", reason: `stage "${failed.stage}" failed: ${failed.error?.message ?? "see the report"}` }
    }
    if (engine === undefined) return { ready: false, status: "failed", reason: "the profile provided no engine" }
    if (jobs?.worker !== undefined && !jobs.queue.connected()) {
      return { ready: false, status: "not-ready", reason: `the worker cannot take jobs: ${jobs.queue.unavailableReason() ?? "Redis is unreachable"}` }
    }
    const warned = report.results.filter((r) => r.outcome === "warned")
    if (policy === "strict" && warned.length > 0) {
      return {
        ready: false,
        status: "not-ready",
        reason: `strict readiness: stage(s) ${warned.map((r) => r.stage).join(", ")} warned (BARK_READINESS=lenient accepts warnings)`
      }
    }
    return { ready: true, status: "ready", reason: warned.length > 0 ? `ready with ${warned.length} warned stage(s)` : "ready" }
  }

  const updateReadyGauge = Effect.suspend(() => Metric.update(Metrics.ready, readiness().ready ? 1 : 0))

  const sink: TraceSink = {
    emit: (event) =>
      Effect.suspend(() => {
        switch (event.type) {
          case "pipeline-started":
            pipeline = event.pipeline
            stages = event.stages
            return Effect.void
          case "stage-finished":
            results.push(event.result)
            return Effect.void
          case "pipeline-finished":
            report = event.report
            return Metrics.recordStartup(event.report).pipe(Effect.andThen(updateReadyGauge))
          default:
            return Effect.void
        }
      })
  }

  return {
    policy: () => policy,
    configure: (p) => {
      policy = p
    },
    sink,
    publish: (e) => Effect.suspend(() => {
      engine = e
      return Effect.andThen(Metrics.recordEngine(e), updateReadyGauge)
    }),
    attachJobs: (j) => {
      jobs = j
    },
    jobs: () => jobs,
    startDraining: Effect.suspend(() => {
      draining = true
      return updateReadyGauge
    }),
    engine: () => engine,
    readiness,
    report: () => report ?? { pipeline, stages, results }
  }
}
