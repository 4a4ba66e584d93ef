/**
 * `bark-pipeline plan <pipeline>`: the dry run — each stage, what it provides
 * and needs, and whether it would be skipped here and why. Builds nothing.
 *
 * @since 0.1.0
 */
import { ConfigProvider, Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import * as Pipeline from "../../pipeline/Pipeline.ts"
import * as Pipelines from "../pipelines.ts"
import { pipelineArgument, setFlag } from "./run.ts"

export const formatPlan = (plan: Pipeline.Plan): string => {
  const lines = [`${plan.pipeline}: ${plan.description}`]
  for (const e of plan.entries) {
    const decision = e.skipReason === undefined ? "run" : `skip (${e.skipReason})`
    lines.push(`  ${String(e.index + 1).padStart(2)}. ${e.stage.padEnd(16)} ${decision}`)
    lines.push(`      ${e.purpose}`)
    lines.push(`      provides ${e.provides}${e.needs.length > 0 ? `; needs ${e.needs.join(", ")}` : ""}${
      e.timeoutMs === undefined ? "" : `; timeout ${e.timeoutMs} ms`
    }${e.retries ? "; retries" : ""}`)
  }
  for (const p of plan.problems) lines.push(`  problem: ${p}`)
  return lines.join("\n")
}

export const command = Command.make(
  "plan",
  {
    pipeline: pipelineArgument,
    json: Flag.Boolean("json").pipe(Flag.withDescription("print the plan as JSON"), Flag.withDefault(false)),
    set: setFlag
  },
  ({ pipeline, json, set }) =>
    Effect.gen(function*() {
      const recipe = yield* Pipelines.resolve(pipeline)
      const withOverrides = Pipeline.withConfig(recipe, set)
      const current = yield* ConfigProvider.ConfigProvider
      const plan = yield* Pipeline.plan(withOverrides).pipe(
        Effect.provideService(
          ConfigProvider.ConfigProvider,
          ConfigProvider.orElse(ConfigProvider.fromEnv({ env: withOverrides.config }), current)
        )
      )
      yield* Console.log(json ? JSON.stringify(plan, null, 2) : formatPlan(plan))
    })
).pipe(Command.withDescription("show what a pipeline would do here, without running it"))
