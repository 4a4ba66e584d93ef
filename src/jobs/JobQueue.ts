/**
 * The job queue: synthesis jobs on BullMQ, whose state lives in Redis
 * (BARK_REDIS_URL). Any replica enqueues, reads a job's state and cancels
 * it; workers (./JobWorker.ts) take the jobs. The connection is made in the
 * background and kept with reconnects (backoff up to 5 s); while Redis is
 * unreachable every call fails at once with `JobsUnavailable` rather than
 * waiting, so the synchronous routes are never held up by the queue.
 *
 * States as the API reports them: `queued`, `running`, `retrying` (an
 * attempt failed, another is due), `completed`, `cancelled` and
 * `dead-letter` (every attempt failed, or the job could never succeed: a
 * malformed payload, an unknown voice).
 *
 * @since 0.4.0
 */
import type { Scope } from "effect"
import { Effect, Schema } from "effect"
import { type Job, Queue } from "bullmq"
import { redis } from "./redis.ts"
import type { AcceptedJob } from "./JobRequest.ts"
import type { JobSettings } from "./settings.ts"

export class JobsUnavailable extends Schema.TaggedError<JobsUnavailable>()("JobsUnavailable", {
  message: Schema.String,
  remediation: Schema.String
}) {}

/** What a job carries in Redis: the checked request and the trace it was enqueued in. */
export interface JobData {
  readonly request: AcceptedJob
  /** W3C traceparent of the enqueuing request's span: the worker's spans join that trace. */
  readonly traceparent?: string | undefined
}

/** Progress as the worker reports it from the engine's events. */
export interface JobProgress {
  readonly sentences: { readonly done: number; readonly total: number }
  /** Tokens generated so far, all stages together. */
  readonly tokens: number
  /** The generation stage running now. */
  readonly stage: string
}

/** What a finished job returns: where its audio is and what it holds. */
export interface JobResult {
  readonly file: string
  readonly format: string
  readonly bytes: number
  readonly durationS: number
  readonly sampleRate: number
  readonly seed: number
  readonly sentences: number
}

export type JobState = "queued" | "running" | "retrying" | "completed" | "cancelled" | "dead-letter"

export interface JobStatus {
  readonly id: string
  readonly state: JobState
  /** A cancel was asked for and the running generation has not stopped yet. */
  readonly cancelRequested: boolean
  readonly progress: JobProgress | null
  readonly attempts: { readonly made: number; readonly max: number }
  readonly request: { readonly chars: number; readonly voice: string | null; readonly seed: number | null; readonly format: string | null }
  readonly createdAt: string
  readonly startedAt: string | null
  readonly finishedAt: string | null
  /** The result, with where to fetch the audio (`url`) and the trace of the attempt that made it (`trace`). */
  readonly result: (JobResult & { readonly url: string; readonly trace: string }) | null
  readonly error: string | null
}

export interface QueueCounts {
  readonly waiting: number
  readonly active: number
  readonly delayed: number
  readonly completed: number
  readonly failed: number
}

/** The reason a cancelled job fails with, so its state reads `cancelled`. */
export const CANCELLED = "cancelled by DELETE /v1/jobs/{id}"

export interface JobQueue {
  readonly settings: JobSettings
  /** Whether Redis answers now. */
  readonly connected: () => boolean
  /** Why jobs are unavailable, when they are. */
  readonly unavailableReason: () => string | undefined
  /**
   * Resolves once connected, or fails with a remediation after `timeoutMs`
   * (or at the first connection error, with `failFast`).
   */
  readonly awaitConnected: (timeoutMs: number, options?: { readonly failFast?: boolean }) => Effect.Effect<void, JobsUnavailable>
  readonly enqueue: (request: AcceptedJob, traceparent?: string) => Effect.Effect<JobStatus, JobsUnavailable>
  readonly get: (id: string) => Effect.Effect<JobStatus | undefined, JobsUnavailable>
  /** Marks a job cancelled: a queued one is never run, a running one stops at its next step. */
  readonly cancel: (id: string) => Effect.Effect<JobStatus | undefined, JobsUnavailable>
  /** Whether a cancel was asked for. */
  readonly isCancelled: (id: string) => Effect.Effect<boolean, JobsUnavailable>
  /** Jobs in a state, newest first (at most `limit`). */
  readonly list: (state: "dead-letter" | "completed" | "queued" | "running", limit: number) => Effect.Effect<ReadonlyArray<JobStatus>, JobsUnavailable>
  readonly counts: Effect.Effect<QueueCounts, JobsUnavailable>
  /** The BullMQ queue, for the worker and for tests. */
  readonly queue: Queue<JobData, JobResult>
}

const iso = (ms: number | undefined) => ms === undefined || ms === 0 ? null : new Date(ms).toISOString()

export const make = (settings: JobSettings): Effect.Effect<JobQueue, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { client, lastError } = yield* redis(settings.redisUrl, { worker: false })
    const queue = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const q = new Queue<JobData, JobResult>(settings.queue, { connection: client, skipWaitingForReady: true })
        q.on("error", () => {})
        return q
      }),
      (q) => Effect.promise(() => q.close().catch(() => undefined))
    )
    const cancelKey = (id: string) => `bark-pipeline:${settings.queue}:cancelled:${id}`

    const connected = () => client.status === "ready"
    const unavailableReason = () =>
      connected() ? undefined : `Redis at ${settings.redisUrl} is unreachable${lastError() === undefined ? "" : ` (${lastError()})`}`
    const unavailable = (detail?: string) =>
      new JobsUnavailable({
        message: `the job queue is unavailable: ${detail ?? unavailableReason() ?? "Redis did not answer"}`,
        remediation: "start Redis or point BARK_REDIS_URL at it; synchronous synthesis (POST /v1/audio/speech, /synthesize) still works"
      })
    /** A Redis call: fails at once when disconnected, and after 5 s if Redis stops answering. */
    const call = <A>(f: () => Promise<A>): Effect.Effect<A, JobsUnavailable> =>
      Effect.suspend(() =>
        connected()
          ? Effect.tryPromise({ try: f, catch: (e) => unavailable(e instanceof Error ? e.message : String(e)) }).pipe(
            Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.fail(unavailable("Redis did not answer within 5 s")) })
          )
          : Effect.fail(unavailable())
      )

    const statusOf = (job: Job<JobData, JobResult>, state: string, cancelled: boolean): JobStatus => {
      // Whatever is in Redis: a job written past the API may hold anything.
      const request: Partial<Record<keyof AcceptedJob, unknown>> = typeof job.data?.request === "object" && job.data.request !== null
        ? job.data.request
        : {}
      const failedReason = job.failedReason === undefined || job.failedReason === "" ? null : job.failedReason
      const jobState: JobState = state === "completed"
        ? "completed"
        : state === "failed"
        ? failedReason === CANCELLED ? "cancelled" : "dead-letter"
        : cancelled && state !== "active"
        ? "cancelled"
        : state === "active"
        ? "running"
        : job.attemptsMade > 0
        ? "retrying"
        : "queued"
      const result = jobState === "completed" && job.returnvalue != null
        ? { ...job.returnvalue, url: `/v1/jobs/${job.id}/audio`, trace: `/v1/jobs/${job.id}/trace` }
        : null
      return {
        id: job.id ?? "",
        state: jobState,
        cancelRequested: cancelled && jobState === "running",
        progress: typeof job.progress === "object" ? job.progress as unknown as JobProgress : null,
        attempts: { made: job.attemptsMade, max: job.opts.attempts ?? 1 },
        request: {
          chars: typeof request.text === "string" ? request.text.length : 0,
          voice: typeof request.voice === "string" ? request.voice : null,
          seed: typeof request.seed === "number" ? request.seed : null,
          format: typeof request.format === "string" ? request.format : null
        },
        createdAt: iso(job.timestamp) ?? "",
        startedAt: iso(job.processedOn),
        finishedAt: jobState === "completed" || jobState === "dead-letter" || (jobState === "cancelled" && state === "failed")
          ? iso(job.finishedOn)
          : null,
        result,
        error: jobState === "completed" ? null : failedReason
      }
    }

    const isCancelled = (id: string) => call(() => client.exists(cancelKey(id))).pipe(Effect.map((n) => n > 0))

    const get = (id: string) =>
      Effect.gen(function*() {
        // The state first: a job read after it is as new as the state or newer (a completed job has its result).
        const [state, cancelled] = yield* Effect.all([call(() => queue.getJobState(id)), isCancelled(id)])
        if (state === "unknown") return undefined
        const job = yield* call(() => queue.getJob(id) as Promise<Job<JobData, JobResult> | undefined>)
        if (job === undefined) return undefined
        return statusOf(job, state, cancelled)
      })

    const enqueue = (request: AcceptedJob, traceparent?: string) =>
      Effect.gen(function*() {
        const id = crypto.randomUUID()
        const job = yield* call(() =>
          queue.add("synthesize", { request, ...(traceparent === undefined ? {} : { traceparent }) }, {
            jobId: id,
            attempts: settings.attempts,
            backoff: { type: "exponential", delay: settings.backoffMs },
            removeOnComplete: { age: settings.retentionS },
            removeOnFail: { age: settings.retentionS }
          })
        )
        return statusOf(job, "waiting", false)
      })

    const cancel = (id: string) =>
      Effect.gen(function*() {
        const before = yield* get(id)
        if (before === undefined || before.state === "completed" || before.state === "dead-letter" || before.state === "cancelled") return before
        yield* call(() => client.set(cancelKey(id), "1", "EX", settings.retentionS))
        return yield* get(id)
      })

    const bullStates = { "dead-letter": "failed", completed: "completed", queued: "waiting", running: "active" } as const
    const list = (state: keyof typeof bullStates, limit: number) =>
      Effect.gen(function*() {
        const jobs = yield* call(() => queue.getJobs([bullStates[state]], 0, limit - 1) as Promise<Array<Job<JobData, JobResult>>>)
        const statuses = yield* Effect.forEach(jobs, (job) => Effect.map(isCancelled(job.id ?? ""), (c) => statusOf(job, bullStates[state], c)))
        return statuses.filter((s) => s.state === state)
      })

    const counts = call(() => queue.getJobCounts("waiting", "active", "delayed", "prioritized", "completed", "failed")).pipe(
      Effect.map((c) => ({
        waiting: (c["waiting"] ?? 0) + (c["prioritized"] ?? 0),
        active: c["active"] ?? 0,
        delayed: c["delayed"] ?? 0,
        completed: c["completed"] ?? 0,
        failed: c["failed"] ?? 0
      }))
    )

    const awaitConnected = (timeoutMs: number, options?: { readonly failFast?: boolean }) =>
      Effect.gen(function*() {
        const deadline = Date.now() + timeoutMs
        while (!connected() && Date.now() < deadline && !(options?.failFast === true && lastError() !== undefined)) {
          yield* Effect.sleep("20 millis")
        }
        if (!connected()) {
          return yield* new JobsUnavailable({
            message: `cannot reach Redis at ${settings.redisUrl} (BARK_REDIS_URL) within ${timeoutMs / 1000} s${lastError() === undefined ? "" : `: ${lastError()}`}`,
            remediation: "start Redis (Debian: apt-get install redis-server) or set BARK_REDIS_URL to where it runs, e.g. redis://redis:6379"
          })
        }
      })

    return { settings, connected, unavailableReason, awaitConnected, enqueue, get, cancel, isCancelled, list, counts, queue }
  })

