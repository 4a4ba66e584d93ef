/**
 * `bark-pipeline serve` as its own process, run exactly as src/cli/main.ts
 * runs a command (same runtime, exit-code teardown), for the shutdown test.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { teardown } from "../../src/cli/CliExit.ts"
import * as Serve from "../../src/cli/commands/serve.ts"

Command.runWith(Serve.command, { version: "test" })(process.argv.slice(2)).pipe(
  Effect.provide(NodeServices.layer),
  (program) => NodeRuntime.runMain(program, { teardown, disableErrorReporting: true })
)
