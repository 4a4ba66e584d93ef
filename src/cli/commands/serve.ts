/**
 * `bark-pipeline serve`: the HTTP synthesis service. Listens first (health
 * answers at once, readiness 503), runs the profile's startup recipe with the
 * console view on stderr, then serves until SIGTERM/SIGINT, when it drains:
 * readiness 503, no new connections, in-flight requests finish within
 * BARK_SHUTDOWN_GRACE_S, then the models are released.
 *
 * `bark-pipeline worker` runs the same way around the worker recipe: health
 * and metrics over HTTP, synthesis jobs from the queue; on SIGTERM it stops
 * taking jobs and lets the running ones finish within the grace.
 *
 * @since 0.1.0
 */
import { Config, Console, Effect, Option } from "effect"
import type { Scope } from "effect"
import { Command, Flag } from "effect/cli"
import * as Environment from "../../bark/stages/environment.ts"
import type * as Pipeline from "../../pipeline/Pipeline.ts"
import type * as Runner from "../../pipeline/Runner.ts"
import * as ConsoleSink from "../../pipeline/sinks/console.ts"
import * as JsonlSink from "../../pipeline/sinks/jsonl.ts"
import type { TraceSink } from "../../pipeline/TraceSink.ts"
import type * as Server from "../../server/Server.ts"
import { fromPipelineFailure, markGracefulStop } from "../CliExit.ts"
import * as Pipelines from "../pipelines.ts"
import { dtypeFlag, setFlag, synthesisFlag, withDtype, withSynthesis } from "./run.ts"

const flags = {
  profile: Flag.String("profile").pipe(
    Flag.withDescription("the startup recipe to serve: a name from pipelines/ (startup, mock, demo, cpu, …) or a module path"),
    Flag.withDefault("startup")
  ),
  host: Flag.String("host").pipe(Flag.withDescription("address to listen on (BARK_HOST, default 127.0.0.1)"), Flag.optional),
  port: Flag.Int("port").pipe(Flag.withDescription("port to listen on, 0 for any free one (BARK_PORT, default 8000)"), Flag.optional),
  trace: Flag.String("trace").pipe(Flag.withDescription("write the startup trace as JSON Lines to this file"), Flag.optional),
  synthesis: synthesisFlag,
  dtype: dtypeFlag,
  set: setFlag
}

type Start = (profile: Pipeline.Any, options: Runner.RunOptions) => Effect.Effect<Server.Running, Runner.PipelineFailed, Scope.Scope>

/**
 * Starts a service (serve or worker) for the flags and keeps it up until
 * interrupted, then drains. The server module (HTTP, the job queue's Redis
 * client, OTLP) is loaded here, not when the CLI starts: the other commands
 * do not pay for it.
 */
const runService = (pick: (server: typeof Server) => Start, doing: string, draining: string) => (input: {
  readonly profile: string
  readonly host: Option.Option<string>
  readonly port: Option.Option<number>
  readonly trace: Option.Option<string>
  readonly synthesis: Option.Option<string>
  readonly dtype: Parameters<typeof withDtype>[1]
  readonly set: Parameters<typeof withDtype>[0]
}) =>
  Effect.scoped(Effect.gen(function*() {
    const { profile, host, port, trace, synthesis, dtype } = input
    const set = yield* withSynthesis(input.set, synthesis)
    const recipe = yield* Pipelines.resolve(profile)
    const sinks: Array<TraceSink> = [ConsoleSink.make()]
    if (Option.isSome(trace)) sinks.push(yield* JsonlSink.make(trace.value))
    // onnxruntime's run blocks its thread: the service generates on a worker thread unless told otherwise.
    const engine = yield* Config.String("BARK_ENGINE").pipe(Config.withDefault("worker"))
    const config = {
      BARK_ENGINE: engine,
      ...withDtype(set, dtype),
      ...(Option.isSome(host) ? { BARK_HOST: host.value } : {}),
      ...(Option.isSome(port) ? { BARK_PORT: String(port.value) } : {})
    }
    const start = pick(yield* Effect.promise(() => import("../../server/Server.ts")))
    const started = yield* Effect.result(start(recipe, { sinks, config, probes: [Environment.probe] }))
    if (started._tag === "Failure") return yield* fromPipelineFailure(started.failure)
    const running = started.success
    const readiness = running.state.readiness()
    yield* Console.error(`${doing} ${recipe.name} on ${running.url} (${readiness.reason}); SIGTERM or Ctrl-C drains and stops`)
    yield* Effect.never.pipe(
      Effect.onInterrupt(() =>
        Console.error(`shutting down: draining ${draining}`).pipe(Effect.andThen(running.drain), Effect.andThen(markGracefulStop))
      )
    )
  }))

export const command = Command.make("serve", flags, runService((server) => server.start, "serving", "in-flight requests")).pipe(
  Command.withDescription("serve synthesis over HTTP: listen, run the startup recipe of a profile, serve until SIGTERM")
)

export const workerCommand = Command.make("worker", flags, runService((server) => server.startWorker, "taking jobs with", "in-flight requests and running jobs")).pipe(
  Command.withDescription(
    "take synthesis jobs from the queue (BARK_REDIS_URL): run the startup recipe of a profile, then work until SIGTERM; health and metrics over HTTP"
  )
)
