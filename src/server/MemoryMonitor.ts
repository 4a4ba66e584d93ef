/**
 * Samples the process's memory into the metrics every BARK_MEMORY_SAMPLE_MS
 * and grades it against the memory budget (BARK_MEMORY_LIMIT_MB, else the
 * container's cgroup limit, else the host's memory): `ok`, `degraded` above
 * the warn share (a warning is logged, /health says degraded) and `shedding`
 * above the optional shed share (synthesis requests get 503 until memory
 * falls).
 *
 * At each sample it also raises or clears the health flags (see
 * HealthFlags): RSS high, RSS growth once warm, a slow model load, a long
 * queue. Each flag is logged once when it goes up (and once when it clears),
 * and exported as `bark_health_flag{flag}`.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Clock, Effect, Metric, Schedule } from "effect"
import * as HealthFlags from "./HealthFlags.ts"
import type { BudgetSource } from "../pipeline/memoryBudget.ts"
import * as Metrics from "./Metrics.ts"

export type MemoryLevel = "ok" | "degraded" | "shedding"

/** What the monitor needs to know about startup: whether the service is ready, and the finished startup's duration. */
export interface StartupStatus {
  readonly ready: boolean
  readonly loadMs: number | undefined
}

export interface MemoryOptions {
  readonly limitMb: number
  readonly budgetSource: BudgetSource
  readonly warnShare: number
  readonly shedShare: number | undefined
  readonly sampleMs: number
  /** BARK_MEMORY_GROWTH_MB (default 100). */
  readonly growthMb?: number
  /** BARK_MEMORY_GROWTH_WINDOW_S (default 300). */
  readonly growthWindowS?: number
  /** BARK_MEMORY_WARMUP_S (default 60). */
  readonly warmupS?: number
  /** BARK_SLOW_LOAD_S (default 60). */
  readonly slowLoadS?: number
  /** BARK_QUEUE_WARN_LENGTH (default 10). */
  readonly queueWarnLength?: number
  /** The startup's state (default: never ready, still starting). */
  readonly startup?: () => StartupStatus
  /** Requests waiting in the admission queue (default 0). */
  readonly queued?: () => number
  /** Samples RSS in bytes (default: the process's, also into the process gauges); tests inject their own. */
  readonly sampleRss?: Effect.Effect<number>
}

export interface MemoryMonitor {
  readonly level: () => MemoryLevel
  readonly rssMb: () => number
  readonly limitMb: number
  readonly budgetSource: BudgetSource
  /** RSS growth over the window in MB; undefined until the service is warm. */
  readonly growthMb: () => number | undefined
  /** The health flags as of the last sample: the message of each active flag. */
  readonly flags: () => HealthFlags.Flags
}

const MB = 2 ** 20
const levelValue: Record<MemoryLevel, number> = { ok: 0, degraded: 1, shedding: 2 }

export const grade = (rssMb: number, options: Pick<MemoryOptions, "limitMb" | "warnShare" | "shedShare">): MemoryLevel =>
  options.shedShare !== undefined && rssMb > options.shedShare * options.limitMb
    ? "shedding"
    : rssMb > options.warnShare * options.limitMb
    ? "degraded"
    : "ok"

const noFlags: HealthFlags.Flags = { memoryHigh: undefined, memoryGrowth: undefined, slowModelLoad: undefined, queueLong: undefined }

/** Starts sampling for the life of the scope. */
export const start = (options: MemoryOptions): Effect.Effect<MemoryMonitor, never, Scope.Scope> =>
  Effect.gen(function*() {
    const thresholds: HealthFlags.Thresholds = {
      warnShare: options.warnShare,
      growthMb: options.growthMb ?? 100,
      growthWindowS: options.growthWindowS ?? 300,
      slowLoadS: options.slowLoadS ?? 60,
      queueLength: options.queueWarnLength ?? 10
    }
    const startup = options.startup ?? (() => ({ ready: false, loadMs: undefined }))
    const queued = options.queued ?? (() => 0)
    const sampleRss = options.sampleRss ?? Metrics.sampleMemory
    const growth = HealthFlags.growthWatch({
      windowMs: thresholds.growthWindowS * 1000,
      warmupMs: (options.warmupS ?? 60) * 1000
    })
    const startedAt = yield* Clock.currentTimeMillis

    let level: MemoryLevel = "ok"
    let rssMb = 0
    let growthMb: number | undefined
    let flags = noFlags

    yield* Metric.update(Metric.withAttributes(Metrics.memoryBudget, { source: options.budgetSource }), options.limitMb * MB)
    for (const name of HealthFlags.flagNames) {
      yield* Metric.update(Metric.withAttributes(Metrics.healthFlag, { flag: HealthFlags.metricLabel[name] }), 0)
    }

    const sample = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      rssMb = (yield* sampleRss) / MB
      const next = grade(rssMb, options)
      if (next !== level) {
        const detail = `RSS ${Math.round(rssMb)} MB of a ${Math.round(options.limitMb)} MB budget (${options.budgetSource})`
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

      const status = startup()
      growthMb = growth.sample(now, rssMb, status.ready)
      yield* Metric.update(Metrics.memoryGrowth, Math.max(0, growthMb ?? 0) * MB)
      const nextFlags = HealthFlags.evaluate({
        rssMb,
        limitMb: options.limitMb,
        growthMb,
        loadMs: status.loadMs,
        startingForMs: now - startedAt,
        queued: queued()
      }, thresholds)
      for (const name of HealthFlags.flagNames) {
        const was = flags[name]
        const is = nextFlags[name]
        if ((was === undefined) === (is === undefined)) continue
        yield* Metric.update(Metric.withAttributes(Metrics.healthFlag, { flag: HealthFlags.metricLabel[name] }), is === undefined ? 0 : 1)
        // RSS high is logged above, with the memory level.
        if (name === "memoryHigh") continue
        if (is !== undefined) yield* Effect.logWarning(`health flag ${HealthFlags.metricLabel[name]}: ${is}`)
        else yield* Effect.logInfo(`health flag ${HealthFlags.metricLabel[name]} cleared`)
      }
      flags = nextFlags
    })
    yield* sample
    yield* Effect.forkScoped(Effect.repeat(sample, Schedule.spaced(options.sampleMs)))
    return {
      level: () => level,
      rssMb: () => rssMb,
      limitMb: options.limitMb,
      budgetSource: options.budgetSource,
      growthMb: () => growthMb,
      flags: () => flags
    }
  })
