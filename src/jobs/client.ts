/**
 * The job queue as promises, for programs that do not use Effect: submit
 * synthesis jobs, follow them, cancel them, from any process that reaches the
 * queue's Redis — the same queue `POST /v1/jobs` feeds and workers take from.
 *
 * ```ts
 * import { connectJobs } from "bark-pipeline"
 * const jobs = await connectJobs({ redisUrl: "redis://127.0.0.1:6379" })
 * const { id } = await jobs.submit({ text: script, voice: "v2/en_speaker_6", format: "mp3" })
 * const done = await jobs.wait(id)            // completed, or rejects when cancelled or dead-lettered
 * console.log(done.result?.file)              // under BARK_RESULTS_DIR
 * await jobs.close()
 * ```
 *
 * @since 0.4.0
 */
import { ConfigProvider, Effect, Exit, Scope } from "effect"
import type { JobStatus } from "./JobQueue.ts"
import * as JobQueue from "./JobQueue.ts"
import * as Checked from "./JobRequest.ts"
import type { JobRequest } from "./JobRequest.ts"
import * as Settings from "./settings.ts"

export interface JobsClientOptions {
  /** Default: BARK_REDIS_URL, else redis://127.0.0.1:6379. */
  readonly redisUrl?: string
  /** Default: BARK_JOBS_QUEUE, else bark-synthesis. */
  readonly queue?: string
  /** How long to wait for Redis before rejecting (default 10 s). */
  readonly connectTimeoutMs?: number
}

export interface JobsClient {
  /** Checks and enqueues a job; rejects with `JobRejected` (a bad request) or `JobsUnavailable`. */
  readonly submit: (request: JobRequest) => Promise<JobStatus>
  readonly status: (id: string) => Promise<JobStatus | undefined>
  readonly cancel: (id: string) => Promise<JobStatus | undefined>
  /** Resolves once the job completed; rejects if it ends otherwise or `timeoutMs` passes. */
  readonly wait: (id: string, options?: { readonly pollMs?: number; readonly timeoutMs?: number }) => Promise<JobStatus>
  readonly close: () => Promise<void>
}

export const connectJobs = async (options: JobsClientOptions = {}): Promise<JobsClient> => {
  const overrides = {
    ...(options.redisUrl === undefined ? {} : { BARK_REDIS_URL: options.redisUrl }),
    ...(options.queue === undefined ? {} : { BARK_JOBS_QUEUE: options.queue })
  }
  // The options over the environment, as the service reads its settings.
  const settings = await Effect.runPromise(
    Effect.gen(function*() {
      return yield* Settings.settings
    }).pipe(Effect.provideServiceEffect(
      ConfigProvider.ConfigProvider,
      Effect.map(ConfigProvider.ConfigProvider, (current) => ConfigProvider.orElse(ConfigProvider.fromEnv({ env: overrides }), current))
    ))
  )
  const scope = Effect.runSync(Scope.make())
  const close = () => Effect.runPromise(Scope.close(scope, Exit.void))
  const queue = await Effect.runPromise(Scope.provide(JobQueue.make(settings), scope))
  const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
  try {
    await run(queue.awaitConnected(options.connectTimeoutMs ?? 10_000))
  } catch (e) {
    await close()
    throw e
  }
  const status = (id: string) => run(queue.get(id))
  return {
    submit: (request) => run(Effect.flatMap(Checked.check(request, { maxTextChars: settings.maxTextChars }), (job) => queue.enqueue(job))),
    status,
    cancel: (id) => run(queue.cancel(id)),
    wait: async (id, { pollMs = 500, timeoutMs = 3_600_000 } = {}) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const job = await status(id)
        if (job === undefined) throw new Error(`no job ${id}: it was never submitted, or it expired (BARK_JOB_RETENTION_S)`)
        if (job.state === "completed") return job
        if (job.state === "cancelled" || job.state === "dead-letter") throw new Error(`job ${id} ended ${job.state}: ${job.error ?? "no error recorded"}`)
        if (Date.now() > deadline) throw new Error(`job ${id} is still ${job.state} after ${timeoutMs / 1000} s`)
        await new Promise((resolve) => setTimeout(resolve, pollMs))
      }
    },
    close
  }
}
