/**
 * The runner script: `bark-pipeline <command>`. Exit codes: 0 success
 * (warnings allowed), 1 a fatal stage failure, 2 a usage or config error.
 *
 * @since 0.1.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Option } from "effect"
import { Command } from "effect/cli"
import { teardown } from "./CliExit.ts"
import * as Bench from "./commands/bench.ts"
import * as Cache from "./commands/cache.ts"
import * as List from "./commands/list.ts"
import * as Parity from "./commands/parity.ts"
import * as Plan from "./commands/plan.ts"
import * as Run from "./commands/run.ts"
import * as Serve from "./commands/serve.ts"
import * as Synthesize from "./commands/synthesize.ts"
import * as Trace from "./commands/trace.ts"

export const version = "0.4.0"

export const cli = Command.make("bark-pipeline").pipe(
  Command.withDescription("declare, run and inspect typed startup and inference pipelines (Bark TTS on onnxruntime)"),
  Command.withSubcommands([
    Run.command,
    Plan.command,
    List.command,
    Synthesize.command,
    Serve.command,
    Serve.workerCommand,
    Parity.command,
    Bench.command,
    Trace.command,
    Cache.command
  ])
)

/** The program for an argv (tests call this in-process). */
export const runCli = (argv: ReadonlyArray<string>) =>
  Command.runWith(cli, { version })(argv).pipe(
    Effect.tapCause((cause) => {
      const error = Cause.findErrorOption(cause)
      if (Option.isSome(error)) {
        const e = error.value
        if (e._tag === "CliExit") return Console.error(`error: ${e.message}\nfix: ${e.remediation}`)
        if (e._tag === "ShowHelp") return Effect.void
      }
      return Cause.hasInterruptsOnly(cause) ? Effect.void : Console.error(Cause.pretty(cause))
    })
  )

/** Runs the CLI as the process's main program. */
export const main = (argv: ReadonlyArray<string> = process.argv.slice(2)) =>
  runCli(argv).pipe(
    Effect.provide(NodeServices.layer),
    (program) => NodeRuntime.runMain(program, { teardown, disableErrorReporting: true })
  )

if (import.meta.main) main()
