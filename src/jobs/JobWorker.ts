/**
 * A worker: takes synthesis jobs from the queue (BullMQ's Worker, up to
 * BARK_WORKER_CONCURRENCY at once), generates each with the engine the
 * startup recipe built, reports progress (sentences and tokens, from the
 * engine's progress events), and writes the audio to the results store,
 * with the attempt's synthesis trace beside it (`<id>.trace.json`; its
 * stages are timed in the metrics and made into spans, as the service does).
 *
 * - A job's request is checked again here: one that can never succeed (a
 *   malformed payload, an unknown voice) is dead-lettered at once instead of
 *   retried, and nothing in a payload can crash the worker.
 * - Other failures are retried up to BARK_JOB_ATTEMPTS times with backoff.
 * - Cancellation (DELETE /v1/jobs/{id}) is polled every half second while a
 *   job runs; the generation is interrupted between steps.
 * - A worker killed mid-job stops renewing its lock; BullMQ's stall check
 *   hands the job to another worker, which regenerates it with the same seed
 *   and so the same audio.
 *
 * @since 0.4.0
 */
import type { Scope } from "effect"
import { Cause, Effect, Exit, Metric, Option, Schedule, Stream } from "effect"
import { type Job, UnrecoverableError, Worker } from "bullmq"
import type { BarkEngine, SynthesisOptions, SynthesisProgress } from "../bark/engine/BarkEngine.ts"
import { collectSynthesis } from "../bark/engine/assemble.ts"
import * as ProgressSpans from "../observability/progressSpans.ts"
import * as StageMetrics from "../observability/stageMetrics.ts"
import * as StageSpans from "../observability/stageSpans.ts"
import * as SynthesisTrace from "../observability/synthesisTrace.ts"
import { withParent } from "../observability/traceContext.ts"
import * as Encoders from "../audio/encoders.ts"
import * as Metrics from "./metrics.ts"
import * as JobRequest from "./JobRequest.ts"
import { CANCELLED, type JobData, type JobProgress, type JobQueue, type JobResult } from "./JobQueue.ts"
import { redis } from "./redis.ts"
import type { ResultsStore } from "./ResultsStore.ts"

export interface JobWorker {
  /** Jobs running now. */
  readonly active: () => number
  /** Stops taking jobs and waits for the running ones (up to `graceMs`, then abandons them to the stall check). */
  readonly close: (graceMs: number) => Effect.Effect<void>
}

export interface WorkerOptions {
  readonly queue: JobQueue
  readonly engine: BarkEngine["Service"]
  readonly store: ResultsStore
}

type Outcome = "completed" | "retry" | "dead-letter" | "cancelled"

class Cancelled {
  readonly _tag = "Cancelled"
}

const isCancelled = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) && Option.getOrUndefined(Cause.findErrorOption(exit.cause)) instanceof Cancelled

/** Sums the engine's progress events into sentences and tokens. */
const progressTracker = () => {
  // Tokens done per chunk and stage (each event gives the stage's count so far), and their sum.
  const tokens = new Map<string, number>()
  let sum = 0
  let progress: JobProgress = { sentences: { done: 0, total: 0 }, tokens: 0, stage: "queued" }
  let dirty = true
  return {
    onProgress: (p: SynthesisProgress) =>
      Effect.sync(() => {
        if (p.stage !== "codec") {
          const key = `${p.chunk}/${p.stage}`
          sum += p.done - (tokens.get(key) ?? 0)
          tokens.set(key, p.done)
        }
        progress = { ...progress, sentences: { done: progress.sentences.done, total: p.chunks }, tokens: sum, stage: p.stage }
        dirty = true
      }),
    sentenceDone: () => {
      progress = { ...progress, sentences: { ...progress.sentences, done: progress.sentences.done + 1 } }
      dirty = true
    },
    /** The progress if it changed since the last call. */
    take: (): JobProgress | undefined => {
      if (!dirty) return undefined
      dirty = false
      return progress
    }
  }
}

export const start = (options: WorkerOptions): Effect.Effect<JobWorker, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { queue, engine, store } = options
    const settings = queue.settings
    const context = yield* Effect.context<never>()
    const { client } = yield* redis(settings.redisUrl, { worker: true })
    let active = 0

    /** Writes an attempt's trace to the results store; a trace that cannot be written is logged, the job goes on. */
    const saveTrace = (id: string, recorder: SynthesisTrace.Recorder) =>
      Effect.suspend(() => store.writeTrace(id, recorder.document())).pipe(
        Effect.catch((e) => Effect.logWarning(`job ${id}: its trace was not stored: ${e.message}`))
      )

    /** One attempt at a job, as an Effect: the result, or why not. */
    const attempt = (job: Job<JobData, JobResult>, signal: AbortSignal | undefined) =>
      Effect.gen(function*() {
        const id = job.id ?? ""
        const request = yield* JobRequest.check(job.data?.request, { maxTextChars: settings.maxTextChars, voices: engine.voices }).pipe(
          Effect.mapError((e) => new UnrecoverableError(`${e.message}: ${e.remediation}`))
        )
        if (yield* queue.isCancelled(id).pipe(Effect.orElseSucceed(() => false))) return yield* Effect.fail(new Cancelled())
        // The attempt's trace is stored beside the audio however the attempt ends (the last attempt's wins).
        const recorder = SynthesisTrace.recorder({ id, route: "job", attempt: job.attemptsMade + 1 })
        return yield* Effect.gen(function*() {
          const tracker = progressTracker()
          /** Sends the progress to Redis if it changed; a lost update is only a stale progress figure. */
          const reportProgress = Effect.suspend(() => {
            const progress = tracker.take()
            return progress === undefined ? Effect.void : Effect.tryPromise(() => job.updateProgress(progress as never)).pipe(Effect.ignore)
          })
          const spans = yield* ProgressSpans.make
          const stageSpans = yield* StageSpans.make
          const synthesisOptions: SynthesisOptions = {
            seed: request.seed,
            onProgress: ProgressSpans.both(tracker.onProgress, spans.onProgress),
            onTrace: SynthesisTrace.combine(recorder.onTrace, StageMetrics.record, stageSpans.onTrace),
            ...(request.voice === undefined ? {} : { voice: request.voice }),
            ...(request.temperatures === undefined ? {} : { temperatures: request.temperatures }),
            ...(request.carryHistory === undefined ? {} : { carryHistory: request.carryHistory })
          }
          const generate = collectSynthesis(
            engine.stream(request.text, synthesisOptions).pipe(Stream.tap(() => Effect.sync(tracker.sentenceDone))),
            engine.sampleRate
          )
          // Reports progress and watches for a cancel; ends the race only by failing with Cancelled.
          const watch = Effect.gen(function*() {
            yield* reportProgress
            const cancelled = signal?.aborted === true || (yield* queue.isCancelled(id).pipe(Effect.orElseSucceed(() => false)))
            if (cancelled) return yield* Effect.fail(new Cancelled())
          }).pipe(Effect.repeat(Schedule.spaced("500 millis")), Effect.andThen(Effect.never))
          const synthesis = yield* Effect.raceFirst(generate, watch).pipe(
            Effect.onExit((exit) => Effect.andThen(spans.end(exit), stageSpans.end(exit)))
          )
          yield* reportProgress
          const audio = synthesis.audio
          const bytes = yield* Encoders.encodeWhole(request.format, audio, engine.sampleRate).pipe(
            Effect.withSpan("encode", { attributes: { "bark.format": request.format } })
          )
          const file = yield* store.write(id, request.format, bytes).pipe(Effect.withSpan("store"))
          return {
            file,
            format: request.format,
            bytes: bytes.length,
            durationS: audio.length / engine.sampleRate,
            sampleRate: engine.sampleRate,
            seed: request.seed,
            sentences: synthesis.chunks.length
          } satisfies JobResult
        }).pipe(Effect.onExit((exit) =>
          recorder.finish(exit, isCancelled(exit) ? "interrupted" : undefined).pipe(Effect.andThen(saveTrace(id, recorder)))
        ))
      })

    /** The error BullMQ gets: unrecoverable ones skip the remaining attempts. */
    const toThrown = (cause: Cause.Cause<unknown>): { readonly error: Error; readonly outcome: Outcome } => {
      const failure = Cause.findErrorOption(cause)
      if (Option.isNone(failure)) {
        return { error: new Error(`the generation was interrupted: ${Cause.pretty(cause).split("\n")[0]}`), outcome: "retry" }
      }
      const e = failure.value as { readonly _tag?: string; readonly message?: string; readonly reason?: string; readonly remediation?: string }
      if (e instanceof Cancelled) return { error: new UnrecoverableError(CANCELLED), outcome: "cancelled" }
      if (e instanceof UnrecoverableError) return { error: e, outcome: "dead-letter" }
      const message = `${e.message ?? String(e)}${e.remediation === undefined ? "" : ` (${e.remediation})`}`
      if (e._tag === "SynthesisError" && e.reason !== "inference") return { error: new UnrecoverableError(message), outcome: "dead-letter" }
      return { error: new Error(message), outcome: "retry" }
    }

    const processor = async (job: Job<JobData, JobResult>, _token?: string, signal?: AbortSignal): Promise<JobResult> => {
      active++
      const started = performance.now()
      const exit = await Effect.runPromiseExit(Effect.provideContext(
        attempt(job, signal).pipe(
          Effect.withSpan("job", { kind: "consumer", attributes: { "job.id": job.id ?? "", "job.attempt": job.attemptsMade + 1 } }),
          // The job's spans join the trace of the request that enqueued it.
          withParent(job.data?.traceparent)
        ),
        context
      ))
      active--
      const thrown = Exit.isSuccess(exit) ? undefined : toThrown(exit.cause)
      let outcome: Outcome = thrown?.outcome ?? "completed"
      if (outcome === "retry" && job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) outcome = "dead-letter"
      await Effect.runPromise(Effect.provideContext(
        Effect.all([
          Metric.update(Metric.withAttributes(Metrics.jobsProcessed, { outcome }), 1),
          Metric.update(Metric.withAttributes(Metrics.jobSeconds, { outcome }), (performance.now() - started) / 1000)
        ], { discard: true }),
        context
      ))
      if (Exit.isSuccess(exit)) return exit.value
      throw thrown!.error
    }

    const worker = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const w = new Worker<JobData, JobResult>(settings.queue, processor, {
          connection: client,
          concurrency: settings.concurrency,
          lockDuration: settings.lockMs,
          stalledInterval: settings.stalledCheckMs,
          maxStalledCount: 2
        })
        w.on("error", () => {})
        return w
      }),
      (w) => Effect.promise(() => w.close(true).catch(() => undefined))
    )

    return {
      active: () => active,
      close: (graceMs) =>
        Effect.promise(() => worker.close()).pipe(
          Effect.timeoutOrElse({ duration: graceMs, orElse: () => Effect.promise(() => worker.close(true).catch(() => undefined)) })
        )
    }
  })
