/**
 * The conditions operators asked to be told about, each a flag with its own
 * threshold: RSS high against the budget, RSS growing once warm, a slow
 * model load, a long admission queue. Pure: the memory monitor feeds them
 * samples and times, tests feed them numbers.
 *
 * @since 0.1.0
 */

export type FlagName = "memoryHigh" | "memoryGrowth" | "slowModelLoad" | "queueLong"

export const flagNames: ReadonlyArray<FlagName> = ["memoryHigh", "memoryGrowth", "slowModelLoad", "queueLong"]

/** The `flag` label of `bark_health_flag`. */
export const metricLabel: Readonly<Record<FlagName, string>> = {
  memoryHigh: "memory_high",
  memoryGrowth: "memory_growth",
  slowModelLoad: "slow_model_load",
  queueLong: "queue_long"
}

export interface Thresholds {
  /** BARK_MEMORY_WARN_SHARE: share of the budget above which RSS is high. */
  readonly warnShare: number
  /** BARK_MEMORY_GROWTH_MB: growth over the window that is flagged. */
  readonly growthMb: number
  /** BARK_MEMORY_GROWTH_WINDOW_S: the sliding window growth is measured over. */
  readonly growthWindowS: number
  /** BARK_SLOW_LOAD_S: a startup (model load) longer than this is flagged. */
  readonly slowLoadS: number
  /** BARK_QUEUE_WARN_LENGTH: more requests waiting than this is flagged. */
  readonly queueLength: number
}

export interface Observation {
  readonly rssMb: number
  readonly limitMb: number
  /** RSS growth over the window; undefined until the service is warm. */
  readonly growthMb: number | undefined
  /** The finished startup's duration (the startup report's), or undefined while it runs. */
  readonly loadMs: number | undefined
  /** How long the startup has been running, while it runs. */
  readonly startingForMs: number
  readonly queued: number
}

/** Which flags are up: the message for each active flag, undefined for the others. */
export type Flags = Readonly<Record<FlagName, string | undefined>>

const mb = (n: number) => Math.round(n)

export const evaluate = (o: Observation, t: Thresholds): Flags => ({
  memoryHigh: o.rssMb > t.warnShare * o.limitMb
    ? `RSS ${mb(o.rssMb)} MB is above ${Math.round(t.warnShare * 100)}% of the ${mb(o.limitMb)} MB budget (BARK_MEMORY_WARN_SHARE)`
    : undefined,
  memoryGrowth: o.growthMb !== undefined && o.growthMb > t.growthMb
    ? `RSS grew ${mb(o.growthMb)} MB within ${t.growthWindowS} s after warm-up, more than BARK_MEMORY_GROWTH_MB=${t.growthMb}: a leak, or arenas still growing; compare /metrics over time and restart the replica if it keeps growing`
    : undefined,
  slowModelLoad: o.loadMs !== undefined
    ? o.loadMs > t.slowLoadS * 1000
      ? `the startup (model load) took ${(o.loadMs / 1000).toFixed(1)} s, more than BARK_SLOW_LOAD_S=${t.slowLoadS}: check the graph cache is kept between restarts (BARK_CACHE_DIR on a volume) and the startup report on /health/ready`
      : undefined
    : o.startingForMs > t.slowLoadS * 1000
    ? `the startup (model load) has been running for ${(o.startingForMs / 1000).toFixed(0)} s, more than BARK_SLOW_LOAD_S=${t.slowLoadS}: see /health/ready for the stages done so far`
    : undefined,
  queueLong: o.queued > t.queueLength
    ? `${o.queued} requests are waiting for a generation slot, more than BARK_QUEUE_WARN_LENGTH=${t.queueLength}: add replicas or raise BARK_MAX_CONCURRENCY`
    : undefined
})

export interface GrowthOptions {
  /** BARK_MEMORY_GROWTH_WINDOW_S, in ms. */
  readonly windowMs: number
  /** BARK_MEMORY_WARMUP_S, in ms: samples count only this long after the service became ready. */
  readonly warmupMs: number
}

export interface GrowthWatch {
  /**
   * Adds an RSS sample taken at `atMs`; `ready` says whether the service is
   * ready then. Returns RSS now minus the lowest sample of the last window,
   * or undefined until the service has been ready for the warm-up period.
   */
  readonly sample: (atMs: number, rssMb: number, ready: boolean) => number | undefined
}

/** Growth of RSS over a sliding window of samples, counted once the service is ready and warm. */
export const growthWatch = (options: GrowthOptions): GrowthWatch => {
  let readyAt: number | undefined
  // Samples of the window whose RSS increases from front to back: the front is the window's minimum.
  const rising: Array<{ readonly at: number; readonly mb: number }> = []
  return {
    sample: (atMs, rssMb, ready) => {
      if (readyAt === undefined) {
        if (!ready) return undefined
        readyAt = atMs
      }
      if (atMs < readyAt + options.warmupMs) return undefined
      while (rising.length > 0 && rising[rising.length - 1]!.mb >= rssMb) rising.pop()
      rising.push({ at: atMs, mb: rssMb })
      while (rising[0]!.at < atMs - options.windowMs) rising.shift()
      return rssMb - rising[0]!.mb
    }
  }
}
