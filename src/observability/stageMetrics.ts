/**
 * Metrics of the synthesis stages, read from a synthesis's trace events:
 * how long each stage took (`synthesis_stage_seconds{stage,outcome}`, a
 * histogram of every stage that ran: succeeded, warned, skipped or failed;
 * not-run stages have no duration and are left out) and what the audio
 * cache answered (`audio_cache_total{result=hit|miss}`, from the
 * `audio-cache` stage's `result` metadata; the stage is skipped, and counts
 * nothing, when BARK_AUDIO_CACHE is off or the request has no seed). Both the
 * service and the job worker record them, into the registry of the process
 * that asked (exported as `bark_…` on its `/metrics`).
 *
 * @since 0.5.0
 */
import { Effect, Metric } from "effect"
import type { TraceEvent } from "../pipeline/TraceEvent.ts"

/**
 * `bark_synthesis_stage_seconds{stage,outcome}`.
 *
 * @since 0.5.0
 */
export const stageSeconds = Metric.histogram("synthesis_stage_seconds", {
  description: "Time each synthesis stage took, by stage and outcome (from the requests' and jobs' traces)",
  boundaries: Metric.exponentialBoundaries({ start: 0.001, factor: 2, count: 16 })
})

/**
 * `bark_audio_cache_total{result}`.
 *
 * @since 0.5.0
 */
export const audioCache = Metric.counter("audio_cache_total", {
  description: "Audio-cache lookups of synthesis requests, by result (hit or miss)",
  incremental: true
})

/**
 * The stage whose metadata says whether the audio cache had the request.
 *
 * @since 0.5.0
 */
export const AUDIO_CACHE_STAGE = "audio-cache"

/**
 * Records a trace event: a finished stage's duration, and the audio cache's answer.
 *
 * @since 0.5.0
 */
export const record = (event: TraceEvent): Effect.Effect<void> => {
  if (event.type !== "stage-finished") return Effect.void
  const { stage, outcome, durationMs, metadata } = event.result
  if (outcome === "not-run") return Effect.void
  const duration = Metric.update(Metric.withAttributes(stageSeconds, { stage, outcome }), durationMs / 1000)
  const result = metadata["result"]
  if (stage !== AUDIO_CACHE_STAGE || (result !== "hit" && result !== "miss")) return duration
  return Effect.andThen(duration, Metric.update(Metric.withAttributes(audioCache, { result }), 1))
}

/**
 * Zeroes the audio-cache counters, so that both series exist before the first lookup.
 *
 * @since 0.5.0
 */
export const initialize: Effect.Effect<void> = Effect.forEach(
  ["hit", "miss"] as const,
  (result) => Metric.update(Metric.withAttributes(audioCache, { result }), 0),
  { discard: true }
)
