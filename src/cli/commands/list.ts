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
    const recipes = yield* Effect.forEach(names, (name) => Pipelines.resolve(name))
    const width = Math.max(...names.map((n) => n.length))
    for (const [i, recipe] of recipes.entries()) {
      yield* Console.log(`${names[i]!.padEnd(width)}  ${recipe.description}`)
    }
  })).pipe(Command.withDescription("list the declared pipelines"))
