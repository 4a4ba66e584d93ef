/**
 * The job routes: `POST /v1/jobs` enqueues a synthesis job and answers 202
 * with its id at once; `GET /v1/jobs/{id}` gives its state and progress;
 * `GET /v1/jobs/{id}/audio` returns the audio once it is done;
 * `GET /v1/jobs/{id}/trace` the trace of its last attempt (JSON, or
 * `?format=svg`, as `GET /v1/traces/{id}`); `DELETE /v1/jobs/{id}` cancels it; `GET /v1/jobs?state=dead-letter`
 * lists jobs in a state. Any replica answers for any job: Redis holds the
 * state, the shared results directory the audio and the traces.
 *
 * @since 0.4.0
 */
import { Effect, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { JobQueue, JobStatus } from "../jobs/JobQueue.ts"
import * as JobRequest from "../jobs/JobRequest.ts"
import { isJobId } from "../jobs/ResultsStore.ts"
import type { TraceDocument } from "../observability/synthesisTrace.ts"
import { currentTraceparent } from "../observability/traceContext.ts"
import { ApiError, badRequest } from "./ApiError.ts"
import * as Encoders from "../audio/encoders.ts"
import * as TraceRoutes from "./traceRoutes.ts"
import type { Jobs, ServerStateShape } from "./ServerState.ts"

export interface JobRouteDeps {
  readonly state: ServerStateShape
  /** The request body as JSON, at most `limitBytes`, with the service's errors. */
  readonly readJson: (limitBytes: number) => Effect.Effect<unknown, ApiError, HttpServerRequest.HttpServerRequest>
}

const LIST_STATES = ["dead-letter", "completed", "queued", "running"] as const

export const make = ({ state, readJson }: JobRouteDeps) => {
  /** The queue, when this replica has one and Redis answers. */
  const available = Effect.suspend(() => {
    const jobs = state.jobs()
    if (jobs === undefined) {
      return Effect.fail(new ApiError({
        status: 503,
        tag: "JobsDisabled",
        message: "this replica has no job queue (BARK_JOBS=off, or the recipe has no jobs stage)",
        remediation: "send jobs to a replica with BARK_JOBS on, or use the synchronous POST /v1/audio/speech"
      }))
    }
    if (!jobs.queue.connected()) {
      return Effect.fail(new ApiError({
        status: 503,
        tag: "JobsUnavailable",
        message: `the job queue is unavailable: ${jobs.queue.unavailableReason() ?? "Redis does not answer"}`,
        remediation: "retry shortly (the replica reconnects by itself); check that Redis runs at BARK_REDIS_URL",
        headers: { "retry-after": "5" }
      }))
    }
    return Effect.succeed(jobs)
  })

  const fromUnavailable = (e: { readonly message: string; readonly remediation: string }) =>
    new ApiError({ status: 503, tag: "JobsUnavailable", message: e.message, remediation: e.remediation, headers: { "retry-after": "5" } })

  /** The job named in the path, or 404. */
  const job = (queue: JobQueue) =>
    Effect.gen(function*() {
      const id = (yield* HttpRouter.params)["id"] ?? ""
      const status = isJobId(id) ? yield* queue.get(id).pipe(Effect.mapError(fromUnavailable)) : undefined
      if (status === undefined) {
        return yield* new ApiError({
          status: 404,
          tag: "JobNotFound",
          message: `no job "${id}"`,
          remediation: `use the id POST /v1/jobs answered with; finished jobs are kept for BARK_JOB_RETENTION_S`
        })
      }
      return status
    })

  const create = Effect.gen(function*() {
    const jobs = yield* available
    // Room for the longest text a job takes, in UTF-8's worst case, and the other fields.
    const body = yield* readJson(jobs.queue.settings.maxTextChars * 4 + 65_536)
    const request = yield* JobRequest.check(body, {
      maxTextChars: jobs.queue.settings.maxTextChars,
      voices: state.engine()?.voices
    }).pipe(Effect.mapError((e) => badRequest("InvalidJob", e.message, e.remediation, e.param)))
    const status = yield* jobs.queue.enqueue(request, yield* currentTraceparent).pipe(Effect.mapError(fromUnavailable))
    return HttpServerResponse.jsonUnsafe(status, { status: 202, headers: { location: `/v1/jobs/${status.id}` } })
  })

  const read = Effect.gen(function*() {
    const jobs = yield* available
    return HttpServerResponse.jsonUnsafe(yield* job(jobs.queue))
  })

  const notFinished = (status: JobStatus) =>
    new ApiError({
      status: 409,
      tag: "JobNotCompleted",
      message: `job ${status.id} is ${status.state}${status.error === null ? "" : `: ${status.error}`}`,
      remediation: status.state === "queued" || status.state === "running" || status.state === "retrying"
        ? "poll GET /v1/jobs/{id} until its state is completed"
        : "submit the job again (POST /v1/jobs)"
    })

  const audio = Effect.gen(function*() {
    const jobs = yield* available
    const status = yield* job(jobs.queue)
    if (status.state !== "completed" || status.result === null) return yield* notFinished(status)
    const result = status.result
    if (!(yield* jobs.store.exists(result.file))) {
      return yield* new ApiError({
        status: 410,
        tag: "AudioGone",
        message: `job ${status.id}'s audio (${result.file}) is no longer in the results store ${jobs.store.dir}`,
        remediation: "submit the job again; check that every replica mounts the same BARK_RESULTS_DIR"
      })
    }
    const format = result.format as Encoders.SpeechFormat
    return yield* HttpServerResponse.file(jobs.store.path(result.file), {
      contentType: Encoders.contentType(format, result.sampleRate),
      headers: { "x-seed": String(result.seed), "content-disposition": `attachment; filename="${result.file}"` }
    }).pipe(Effect.orDie)
  })

  const unreadable = (message: string) =>
    new ApiError({
      status: 500,
      tag: "TraceUnreadable",
      message,
      remediation: "check that every replica mounts the same BARK_RESULTS_DIR and can read it"
    })

  const trace = Effect.gen(function*() {
    const jobs = yield* available
    const status = yield* job(jobs.queue)
    const stored = yield* jobs.store.readTrace(status.id).pipe(Effect.mapError((e) => unreadable(e.message)))
    if (stored === undefined) {
      const pending = status.state === "queued" || status.state === "running"
      return yield* new ApiError({
        status: 404,
        tag: "TraceNotFound",
        message: `job ${status.id} has no trace in the results store ${jobs.store.dir} (it is ${status.state})`,
        remediation: pending
          ? "the worker writes a job's trace when an attempt ends: poll GET /v1/jobs/{id} and ask again"
          : "a job that never reached synthesis (cancelled while queued, a payload that is not a job) has none; otherwise check that every replica mounts the same BARK_RESULTS_DIR"
      })
    }
    const document = stored as Partial<TraceDocument>
    if (typeof document !== "object" || document === null || !Array.isArray(document.events)) {
      return yield* unreadable(`job ${status.id}'s trace in ${jobs.store.dir} is not a trace document`)
    }
    return yield* TraceRoutes.answer(document as TraceDocument)
  })

  const cancel = Effect.gen(function*() {
    const jobs = yield* available
    const before = yield* job(jobs.queue)
    if (before.state === "completed" || before.state === "dead-letter") {
      return yield* new ApiError({
        status: 409,
        tag: "JobFinished",
        message: `job ${before.id} already finished: ${before.state}`,
        remediation: "nothing to cancel; its audio stays until BARK_JOB_RETENTION_S passes"
      })
    }
    const after = yield* jobs.queue.cancel(before.id).pipe(Effect.mapError(fromUnavailable))
    return HttpServerResponse.jsonUnsafe(after ?? before, { status: 202 })
  })

  const ListQuery = Schema.Struct({
    state: Schema.optionalKey(Schema.Literals(LIST_STATES)),
    limit: Schema.optionalKey(Schema.NumberFromString)
  })

  const list = Effect.gen(function*() {
    const jobs: Jobs = yield* available
    const query = yield* HttpServerRequest.schemaSearchParams(ListQuery).pipe(
      Effect.mapError(() => badRequest("InvalidQuery", "invalid query", `use ?state=${LIST_STATES.join("|")}&limit=1..500`, "state"))
    )
    const limit = Math.min(Math.max(Math.floor(query.limit ?? 50), 1), 500)
    const found = yield* jobs.queue.list(query.state ?? "dead-letter", limit).pipe(Effect.mapError(fromUnavailable))
    return HttpServerResponse.jsonUnsafe({ object: "list", data: found })
  })

  return { create, read, audio, trace, cancel, list }
}
