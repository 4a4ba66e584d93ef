/**
 * The job queue's metrics. Defined here, where workers update them; the
 * service's registry (../server/Metrics.ts) exports them with the rest under
 * the `bark_` prefix.
 *
 * @since 0.5.0
 */
import { Metric } from "effect"

export const jobs = Metric.gauge("jobs", {
  description: "Jobs in the queue by state (waiting, active, delayed, completed, failed), read from Redis at each scrape"
})
export const jobsAvailable = Metric.gauge("jobs_available", { description: "1 while the job queue's Redis is connected" })
export const jobsProcessed = Metric.counter("jobs_processed_total", {
  description: "Job attempts this worker finished, by outcome: completed, retry (failed, will be tried again), dead-letter, cancelled",
  incremental: true
})
export const jobSeconds = Metric.histogram("job_duration_seconds", {
  description: "Time a worker spent on one attempt at a job, by outcome",
  boundaries: Metric.exponentialBoundaries({ start: 0.1, factor: 2, count: 16 })
})
