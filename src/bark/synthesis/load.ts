/**
 * Synthesis recipes by name or module path: the shipped ones (`synthesis`,
 * `draft`) by name, or a module whose default (or `recipe`) export is a
 * synthesis recipe, by path — what `--synthesis` and `BARK_SYNTHESIS` take,
 * and what a request's `synthesis` option names. A module is imported once
 * per process (the worker engine's thread imports it too). A recipe value
 * (the promise API's `synthesize(text, { pipeline })`) is registered under a
 * name of its own, known only to the thread that registered it.
 *
 * @since 0.5.0
 */
import { Effect } from "effect"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import type { SynthesisError } from "../engine/BarkEngine.ts"
import { invalidInput } from "../engine/errors.ts"
import * as Recipes from "./recipes.ts"
import type { AudioCacheStore } from "./services.ts"
import { isSynthesisRecipe, type SynthesisRecipe } from "./SynthesisRecipe.ts"
import type * as SynthesisRecipeModule from "./SynthesisRecipe.ts"

/** The recipes a request may name without a path. */
export const SHIPPED: Readonly<Record<string, SynthesisRecipe<AudioCacheStore>>> = {
  synthesis: Recipes.synthesis,
  draft: Recipes.draft
}

/** Whether `nameOrPath` names a module rather than a shipped recipe. */
export const isPath = (nameOrPath: string) =>
  nameOrPath.includes("/") || nameOrPath.includes(path.sep) || /\.[cm]?[jt]s$/.test(nameOrPath)

const loaded = new Map<string, Promise<SynthesisRecipe<AudioCacheStore>>>()

const fromModule = (file: string): Promise<SynthesisRecipe<AudioCacheStore>> =>
  import(pathToFileURL(file).href).then((mod: Record<string, unknown>) => {
    const candidate = mod["default"] ?? mod["recipe"]
    if (!isSynthesisRecipe(candidate)) throw new Error(`${file} does not export a synthesis recipe`)
    return candidate as SynthesisRecipe<AudioCacheStore>
  })

const REGISTERED = "registered:"
const registered = new Map<SynthesisRecipeModule.Any, string>()
const byName = new Map<string, SynthesisRecipe<AudioCacheStore>>()

/** A name under which this thread's engines find `recipe` (the same name for the same value). */
export const register = (recipe: SynthesisRecipe<AudioCacheStore>): string => {
  const known = registered.get(recipe)
  if (known !== undefined) return known
  const name = `${REGISTERED}${recipe.name}#${registered.size + 1}`
  registered.set(recipe, name)
  byName.set(name, recipe)
  return name
}

/** The recipe `nameOrPath` names, or a typed error saying what there is. */
export const load = (nameOrPath: string): Effect.Effect<SynthesisRecipe<AudioCacheStore>, SynthesisError> => {
  if (nameOrPath.startsWith(REGISTERED)) {
    const recipe = byName.get(nameOrPath)
    return recipe === undefined
      ? Effect.fail(invalidInput(
        `the synthesis recipe ${nameOrPath.slice(REGISTERED.length)} was given as a value, which only the engine's own thread can run`,
        "With the worker engine (BARK_ENGINE=worker), pass the path of the recipe's module instead; or use BARK_ENGINE=in-process."
      ))
      : Effect.succeed(recipe)
  }
  if (!isPath(nameOrPath)) {
    const shipped = SHIPPED[nameOrPath]
    return shipped === undefined
      ? Effect.fail(invalidInput(
        `unknown synthesis recipe "${nameOrPath}"`,
        `Use one of ${Object.keys(SHIPPED).join(", ")}, or the path of a module exporting a synthesis recipe.`
      ))
      : Effect.succeed(shipped)
  }
  const file = path.resolve(nameOrPath)
  const pending = loaded.get(file) ?? fromModule(file)
  loaded.set(file, pending)
  return Effect.tryPromise({
    try: () => pending,
    catch: (e) => {
      loaded.delete(file)
      return invalidInput(
        `cannot load the synthesis recipe ${file}: ${e instanceof Error ? e.message : String(e)}`,
        "Check the module exists, compiles (npm run typecheck) and default-exports a recipe made with SynthesisRecipe.make."
      )
    }
  })
}
