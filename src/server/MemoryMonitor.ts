/**
 * Samples the process's memory into the metrics every few hundred ms and
 * grades it against BARK_MEMORY_LIMIT_MB: `ok`, `degraded` above the warn
 * share (a warning is logged, /health says degraded) and `shedding` above the
 * optional shed share (synthesis requests get 503 until memory falls).
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Effect, Metric, Schedule } from "effect"
import * as Metrics from "./Metrics.ts"

export type MemoryLevel = "ok" | "degraded" | "shedding"

export interface MemoryOptions {
  readonly limitMb: number
  readonly warnShare: number
  readonly shedShare: number | undefined
  readonly sampleMs: number
}

export interface MemoryMonitor {
  readonly level: () => MemoryLevel
  readonly rssMb: () => number
  readonly limitMb: number
}

const MB = 2 ** 20
const levelValue: Record<MemoryLevel, number> = { ok: 0, degraded: 1, shedding: 2 }

export const grade = (rssMb: number, options: Omit<MemoryOptions, "sampleMs">): MemoryLevel =>
  options.shedShare !== undefined && rssMb > options.shedShare * options.limitMb
    ? "shedding"
    : rssMb > options.warnShare * options.limitMb
    ? "degraded"
    : "ok"

/** Starts sampling for the life of the scope. */
export const start = (options: MemoryOptions): Effect.Effect<MemoryMonitor, never, Scope.Scope> =>
  Effect.gen(function*() {
    let level: MemoryLevel = "ok"
    let rssMb = 0
    const sample = Effect.gen(function*() {
      rssMb = (yield* Metrics.sampleMemory) / MB
      const next = grade(rssMb, options)
      if (next !== level) {
        const detail = `RSS ${Math.round(rssMb)} MB of BARK_MEMORY_LIMIT_MB=${options.limitMb}`
        if (levelValue[next] > levelValue[level]) {
          yield* Effect.logWarning(
            `memory ${next}: ${detail} (warn above ${Math.round(options.warnShare * 100)}%${
              options.shedShare === undefined ? "" : `, shed above ${Math.round(options.shedShare * 100)}%`
            }); lower BARK_MAX_CONCURRENCY, turn on SUNO_OFFLOAD_CPU=True, or give the service more memory`
          )
        } else {
          yield* Effect.logInfo(`memory back to ${next}: ${detail}`)
        }
        level = next
      }
      yield* Metric.update(Metrics.memoryPressure, levelValue[level])
    })
    yield* sample
    yield* Effect.forkScoped(Effect.repeat(sample, Schedule.spaced(options.sampleMs)))
    return { level: () => level, rssMb: () => rssMb, limitMb: options.limitMb }
  })
