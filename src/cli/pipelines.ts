/**
 * Finds recipes for the runner: a name from the project's `pipelines/`
 * folder, or a path to a module whose default (or `pipeline`) export is a
 * Pipeline (a startup or service recipe, run once) or a synthesis recipe
 * (run per request by the engine: `--synthesis`).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import type * as Pipeline from "../pipeline/Pipeline.ts"
import * as SynthesisRecipe from "../bark/synthesis/SynthesisRecipe.ts"
import { usage } from "./CliExit.ts"

/** The declared recipes shipped with the project. */
export const pipelinesDir = new URL("../../pipelines/", import.meta.url)

/** Their modules' extension: `.ts` in a checkout (Node runs the sources), `.js` in the built package. */
const moduleExtension = import.meta.url.slice(import.meta.url.lastIndexOf("."))

const isPipeline = (u: unknown): u is Pipeline.Any =>
  typeof u === "object" && u !== null && "entries" in u && "name" in u && Array.isArray((u as Pipeline.Any).entries)

/** What a recipe module declares. */
export type Declared =
  | { readonly kind: "pipeline"; readonly pipeline: Pipeline.Any }
  | { readonly kind: "synthesis"; readonly recipe: SynthesisRecipe.Any }

const fromModule = (file: string) =>
  Effect.tryPromise({
    try: () => import(pathToFileURL(file).href) as Promise<Record<string, unknown>>,
    catch: (e) =>
      usage(
        `cannot load the recipe module ${file}: ${(e as Error).message}`,
        "check the module compiles (`npm run typecheck`) and exports a Pipeline"
      )
  }).pipe(Effect.flatMap((mod) => {
    const candidate = mod["default"] ?? mod["pipeline"]
    if (isPipeline(candidate)) return Effect.succeed<Declared>({ kind: "pipeline", pipeline: candidate })
    if (SynthesisRecipe.isSynthesisRecipe(candidate)) return Effect.succeed<Declared>({ kind: "synthesis", recipe: candidate })
    return Effect.fail(usage(
      `${file} does not export a Pipeline`,
      "export the recipe (a Pipeline, or a synthesis recipe) as the module's default export (or as `pipeline`)"
    ))
  }))

/** Names of the recipes in `pipelines/`. */
export const declaredNames = (): ReadonlyArray<string> =>
  fs.readdirSync(pipelinesDir).filter((f) => f.endsWith(moduleExtension) && !f.endsWith(".d.ts"))
    .map((f) => f.slice(0, -moduleExtension.length)).sort()

/** A recipe module by name or path: a pipeline or a synthesis recipe. */
export const load = (nameOrPath: string) => {
  const looksLikePath = nameOrPath.includes("/") || nameOrPath.includes(path.sep) || /\.[cm]?[jt]s$/.test(nameOrPath)
  if (looksLikePath) {
    const file = path.resolve(nameOrPath)
    return fs.existsSync(file)
      ? fromModule(file)
      : Effect.fail(usage(`no recipe module at ${file}`, "pass a pipeline name (see `bark-pipeline list`) or an existing .ts or .js module"))
  }
  const names = declaredNames()
  return names.includes(nameOrPath)
    ? fromModule(new URL(`${nameOrPath}${moduleExtension}`, pipelinesDir).pathname)
    : Effect.fail(usage(
      `unknown pipeline "${nameOrPath}"`,
      `use one of: ${names.join(", ")} (see \`bark-pipeline list\`), or a path to a module exporting a Pipeline`
    ))
}

/** A pipeline to run (startup, service): a synthesis recipe here is a usage error that says where it goes. */
export const resolve = (nameOrPath: string) =>
  Effect.flatMap(load(nameOrPath), (declared) =>
    declared.kind === "pipeline"
      ? Effect.succeed(declared.pipeline)
      : Effect.fail(usage(
        `"${nameOrPath}" is a synthesis recipe, which the engine runs for every request`,
        `give it to synthesize, serve or worker as --synthesis ${nameOrPath} (see \`bark-pipeline plan ${nameOrPath}\`)`
      )))
