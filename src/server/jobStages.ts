/**
 * The job queue as stages:
 *
 * - `jobs` (in the serve recipe, after `listen`): connects this replica to
 *   the queue in the background and opens the job routes. It never holds up
 *   startup nor fails it: while Redis is unreachable the replica serves
 *   synchronous requests, answers the job routes with 503 and shows
 *   `jobs.available: false` in `/health`, and keeps reconnecting.
 * - `worker` (in the worker recipe, after the profile): waits for Redis
 *   (fatal, with a remediation, if it cannot be reached), then takes jobs
 *   with the profile's engine. Its readiness needs the model and Redis.
 *
 * The recipes that use them are in ../server/stages.ts.
 *
 * @since 0.4.0
 */
import { NodeServices } from "@effect/platform-node"
import { Context, Effect } from "effect"
import { BarkEngine } from "../bark/engine/BarkEngine.ts"
import * as Stage from "../pipeline/Stage.ts"
import { StageFatal } from "../pipeline/StageFatal.ts"
import * as StageReporter from "../pipeline/StageReporter.ts"
import { HttpListener } from "./HttpListener.ts"
import * as ServerSettings from "./settings.ts"
import * as JobQueue from "../jobs/JobQueue.ts"
import * as JobWorker from "../jobs/JobWorker.ts"
import * as ResultsStore from "../jobs/ResultsStore.ts"
import * as Settings from "../jobs/settings.ts"

/** jobs: this replica's connection to the job queue. */
export class JobsConnection extends Context.Service<JobsConnection, {
  /** Absent when BARK_JOBS=off. */
  readonly queue: JobQueue.JobQueue | undefined
}>()("bark-pipeline/JobsConnection") {}

/** worker: this process, taking jobs. */
export class JobsWorker extends Context.Service<JobsWorker, JobWorker.JobWorker>()("bark-pipeline/JobsWorker") {}

const connect = Effect.gen(function*() {
  const settings = yield* Settings.settings
  const queue = yield* JobQueue.make(settings)
  // Node's file system whether or not the run provides one (the service runs on Node).
  const store = yield* ResultsStore.make(settings.resultsDir).pipe(Effect.provide(NodeServices.layer))
  return { settings, queue, store }
})

export const jobs = Stage.make({
  name: "jobs",
  purpose: "connect to the job queue in the background and open the job routes (POST /v1/jobs …)",
  provides: JobsConnection,
  needs: [HttpListener],
  skip: {
    when: Effect.map(Settings.settings, (s) => s.enabled ? undefined : "BARK_JOBS=off: no job queue on this replica"),
    value: Effect.succeed(JobsConnection.of({ queue: undefined }))
  },
  build: Effect.gen(function*() {
    const listener = yield* HttpListener
    const { settings, queue, store } = yield* connect
    listener.state.attachJobs({ queue, store })
    // A moment for a local Redis to answer, so the trace says whether jobs are available; never a failure.
    const connected = yield* queue.awaitConnected(500, { failFast: true }).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
    yield* StageReporter.annotate({ redis: settings.redisUrl, queue: settings.queue, resultsDir: store.dir, connected })
    if (!connected) {
      yield* Effect.logWarning(`job queue unavailable for now: ${queue.unavailableReason()}; reconnecting in the background (BARK_JOBS=off turns jobs off)`)
    }
    return JobsConnection.of({ queue })
  })
})

export const worker = Stage.make({
  name: "worker",
  purpose: "take synthesis jobs from the queue with the profile's engine",
  provides: JobsWorker,
  needs: [HttpListener, BarkEngine],
  build: Effect.gen(function*() {
    const listener = yield* HttpListener
    const engine = yield* BarkEngine
    const { settings, queue, store } = yield* connect
    yield* queue.awaitConnected(settings.connectTimeoutS * 1000).pipe(
      Effect.mapError((e) => new StageFatal({ message: e.message, remediation: e.remediation, errorTag: "RedisUnreachable" }))
    )
    const { shutdownGraceS } = yield* ServerSettings.settings
    const running = yield* JobWorker.start({ queue, engine, store })
    // Runs before the worker's own release (which abandons running jobs): SIGTERM lets the current jobs finish.
    yield* Effect.addFinalizer(() => running.close(shutdownGraceS * 1000))
    listener.state.attachJobs({ queue, store, worker: running })
    yield* listener.state.publish(engine)
    yield* StageReporter.annotate({
      redis: settings.redisUrl,
      queue: settings.queue,
      resultsDir: store.dir,
      concurrency: settings.concurrency,
      attempts: settings.attempts,
      engine: engine.kind
    })
    return JobsWorker.of(running)
  })
})
