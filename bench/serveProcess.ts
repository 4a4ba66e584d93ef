/**
 * `bark-pipeline serve` as a child process for bench/serve.ts, run as
 * src/cli/main.ts runs a command, with one addition: started with
 * `node --expose-gc`, SIGUSR2 forces a garbage collection, so that the bench
 * can read the after-GC RSS from /metrics.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { teardown } from "../src/cli/CliExit.ts"
import * as Serve from "../src/cli/commands/serve.ts"

const gc = (globalThis as { gc?: () => void }).gc
if (gc !== undefined) process.on("SIGUSR2", () => gc())

Command.runWith(Serve.command, { version: "bench" })(process.argv.slice(2)).pipe(
  Effect.provide(NodeServices.layer),
  (program) => NodeRuntime.runMain(program, { teardown, disableErrorReporting: true })
)
