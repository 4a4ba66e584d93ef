/**
 * `bark-pipeline list`: the declared pipelines with their one-line descriptions.
 *
 * @since 0.1.0
 */
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
import * as Pipelines from "../pipelines.ts"

export const command = Command.make("list", {}, () =>
  Effect.gen(function*() {
    const names = Pipelines.declaredNames()
    const declared = yield* Effect.forEach(names, (name) => Pipelines.load(name))
    const width = Math.max(...names.map((n) => n.length))
    for (const [i, d] of declared.entries()) {
      const description = d.kind === "pipeline" ? d.pipeline.description : `synthesis recipe (per request, --synthesis): ${d.recipe.description}`
      yield* Console.log(`${names[i]!.padEnd(width)}  ${description}`)
    }
  })).pipe(Command.withDescription("list the declared pipelines and synthesis recipes"))
