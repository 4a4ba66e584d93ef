/**
 * `bark-pipeline plan <pipeline>`: the dry run — each stage, what it provides
 * and needs, and whether it would be skipped here and why. Builds nothing.
 *
 * @since 0.1.0
 */
import { type Config, ConfigProvider, Console, Effect } from "effect"
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
      const declared = yield* Pipelines.load(pipeline)
      const current = yield* ConfigProvider.ConfigProvider
      // Skip rules read config only: a synthesis recipe's per-request decisions (no voice, no seed) show in its traces.
      const planOf = (part: Pipeline.Any) => {
        const withOverrides = Pipeline.withConfig(part, set)
        return Pipeline.plan(withOverrides).pipe(
          Effect.provideService(
            ConfigProvider.ConfigProvider,
            ConfigProvider.orElse(ConfigProvider.fromEnv({ env: withOverrides.config }), current)
          )
        ) as Effect.Effect<Pipeline.Plan, Config.ConfigError>
      }
      if (declared.kind === "pipeline") {
        const plan = yield* planOf(declared.pipeline)
        return yield* Console.log(json ? JSON.stringify(plan, null, 2) : formatPlan(plan))
      }
      const { recipe } = declared
      const prepare = yield* planOf(recipe.prepare)
      const chunk = yield* planOf(recipe.chunk)
      yield* Console.log(
        json
          ? JSON.stringify({ synthesis: recipe.name, description: recipe.description, prepare, chunk }, null, 2)
          : [`${recipe.name} (synthesis recipe, run for every request): ${recipe.description}`, formatPlan(prepare), formatPlan(chunk)].join("\n")
      )
    })
).pipe(Command.withDescription("show what a pipeline would do here, without running it"))
