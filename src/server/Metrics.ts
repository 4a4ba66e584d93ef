/**
 * The service's Prometheus metrics, all prefixed `bark_` (as TGI prefixes
 * `tgi_` and Triton `nv_`). Counters and histograms are updated where things
 * happen; gauges of state (queue, memory, startup) are set when sampled.
 * Each server keeps its own registry, so two servers in one process (tests)
 * do not mix their numbers.
 *
 * @since 0.1.0
 */
import type { BarkEngine } from "../bark/engine/BarkEngine.ts"
import { Effect, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import type { PipelineReport } from "../pipeline/StageResult.ts"
import { jobsProcessed } from "../jobs/metrics.ts"
import * as StageMetrics from "../observability/stageMetrics.ts"

export { jobs, jobsAvailable, jobSeconds, jobsProcessed } from "../jobs/metrics.ts"
export { audioCache, stageSeconds as synthesisStageSeconds } from "../observability/stageMetrics.ts"

export const PREFIX = "bark"

const seconds = Metric.exponentialBoundaries({ start: 0.01, factor: 2, count: 14 })

export const requests = Metric.counter("requests_total", {
  description: "HTTP requests by route and status",
  incremental: true
})
export const rejected = Metric.counter("rejected_total", {
  description: "Requests rejected with 429 because the queue was full",
  incremental: true
})
export const errors = Metric.counter("errors_total", { description: "Error responses by error tag", incremental: true })
export const generations = Metric.counter("generations_total", {
  description: "Generations by outcome: completed, failed, interrupted (client gone or shutdown)",
  incremental: true
})
export const audioSeconds = Metric.counter("audio_seconds_total", {
  description: "Seconds of audio produced",
  incremental: true
})
export const tokens = Metric.counter("tokens_generated_total", {
  description: "Tokens generated, by generation stage",
  incremental: true
})
export const synthesisSeconds = Metric.histogram("synthesis_duration_seconds", {
  description: "Time from a generation slot to the last byte of audio",
  boundaries: seconds
})
export const queueSeconds = Metric.histogram("queue_duration_seconds", {
  description: "Time a request waited for a generation slot",
  boundaries: seconds
})
export const batchSize = Metric.histogram("batch_size", {
  description: "Sequences in the decoding step that made each semantic and coarse token (1 alone; BARK_MAX_BATCH at most)",
  boundaries: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64]
})
export const tokensPerSecond = Metric.gauge("tokens_per_second", {
  description: "Generation speed of the latest request, by generation stage"
})
export const queueSize = Metric.gauge("queue_size", { description: "Requests waiting for a generation slot" })
export const inFlight = Metric.gauge("requests_in_flight", { description: "Generations running" })
export const rss = Metric.gauge("process_resident_memory_bytes", { description: "Resident set size of the process" })
export const heapUsed = Metric.gauge("process_heap_used_bytes", { description: "V8 heap in use" })
export const heapTotal = Metric.gauge("process_heap_total_bytes", { description: "V8 heap reserved" })
export const external = Metric.gauge("process_external_bytes", {
  description: "Memory outside the V8 heap held by JS objects (array buffers, onnxruntime tensors)"
})
export const memoryPressure = Metric.gauge("memory_pressure", {
  description: "0 ok, 1 above BARK_MEMORY_WARN_SHARE of the limit (degraded), 2 above BARK_MEMORY_SHED_SHARE (shedding)"
})
export const memoryBudget = Metric.gauge("memory_budget_bytes", {
  description: "The memory budget RSS is graded against, labelled by where it came from: config, cgroup-v2, cgroup-v1 or host"
})
export const memoryGrowth = Metric.gauge("memory_growth_bytes", {
  description: "RSS growth over the last BARK_MEMORY_GROWTH_WINDOW_S (from the window's lowest sample), 0 until warm"
})
export const healthFlag = Metric.gauge("health_flag", {
  description: "1 while a health flag is up: memory_high, memory_growth, slow_model_load, queue_long (thresholds in docs/service.md)"
})
export const ready = Metric.gauge("ready", { description: "1 when the service accepts synthesis requests" })
export const stageSeconds = Metric.gauge("model_load_seconds", { description: "Startup time of each stage of the profile" })
export const startupSeconds = Metric.gauge("startup_seconds", { description: "Startup time of the whole profile" })
export const graphCache = Metric.counter("graph_cache_total", {
  description: "Graph-cache lookups during startup, by result (hit or miss), from the stages' metadata",
  incremental: true
})

export const engineInfo = Metric.gauge("engine_info", {
  description: "1 for the engine being served, with its kind and weight type (dtype) as attributes"
})

/** Records the engine the profile provided (kind, dtype) in `engine_info`. */
export const recordEngine = (engine: BarkEngine["Service"]) =>
  Metric.update(Metric.withAttributes(engineInfo, { kind: engine.kind, dtype: engine.dtype ?? "none" }), 1)

/** Counts one response. */
export const countResponse = (route: string, status: number, errorTag?: string) =>
  Effect.gen(function*() {
    yield* Metric.update(Metric.withAttributes(requests, { route, status: String(status) }), 1)
    if (status === 429) yield* Metric.update(rejected, 1)
    if (errorTag !== undefined) yield* Metric.update(Metric.withAttributes(errors, { tag: errorTag }), 1)
  })

export const countGeneration = (outcome: "completed" | "failed" | "interrupted") =>
  Metric.update(Metric.withAttributes(generations, { outcome }), 1)

/** Samples the process's memory into the gauges; returns the RSS in bytes. */
export const sampleMemory = Effect.gen(function*() {
  const m = process.memoryUsage()
  yield* Metric.update(rss, m.rss)
  yield* Metric.update(heapUsed, m.heapUsed)
  yield* Metric.update(heapTotal, m.heapTotal)
  yield* Metric.update(external, m.external)
  return m.rss
})

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0)

/**
 * Records a finished startup: seconds per stage and in total, and graph-cache
 * hits and misses when stages report them in their metadata
 * (`graphCacheHits` / `graphCacheMisses`, or `graphCache: "hit" | "miss"`).
 */
export const recordStartup = (report: PipelineReport) =>
  Effect.gen(function*() {
    yield* Metric.update(startupSeconds, report.durationMs / 1000)
    for (const r of report.results) {
      if (r.outcome === "not-run") continue
      yield* Metric.update(Metric.withAttributes(stageSeconds, { stage: r.stage }), r.durationMs / 1000)
      const hits = count(r.metadata["graphCacheHits"]) + (r.metadata["graphCache"] === "hit" ? 1 : 0)
      const misses = count(r.metadata["graphCacheMisses"]) + (r.metadata["graphCache"] === "miss" ? 1 : 0)
      if (hits > 0) yield* Metric.update(Metric.withAttributes(graphCache, { stage: r.stage, result: "hit" }), hits)
      if (misses > 0) yield* Metric.update(Metric.withAttributes(graphCache, { stage: r.stage, result: "miss" }), misses)
    }
  })

/** Zeroes the counters so that they show up before the first event (dashboards and alerts expect the series). */
export const initialize = Effect.gen(function*() {
  yield* Metric.update(rejected, 0)
  yield* Metric.update(audioSeconds, 0)
  for (const outcome of ["completed", "failed", "interrupted"] as const) {
    yield* Metric.update(Metric.withAttributes(generations, { outcome }), 0)
  }
  yield* Metric.update(ready, 0)
  for (const outcome of ["completed", "retry", "dead-letter", "cancelled"] as const) {
    yield* Metric.update(Metric.withAttributes(jobsProcessed, { outcome }), 0)
  }
  yield* StageMetrics.initialize
})

/** The exposition text. */
export const render = PrometheusMetrics.format({ prefix: PREFIX })
