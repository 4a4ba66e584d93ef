/**
 * Finds recipes for the runner: a name from the project's `pipelines/`
 * folder, or a path to a module whose default (or `pipeline`) export is a
 * Pipeline.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import type * as Pipeline from "../pipeline/Pipeline.ts"
import { usage } from "./CliExit.ts"

/** The declared recipes shipped with the project. */
export const pipelinesDir = new URL("../../pipelines/", import.meta.url)

/** Their modules' extension: `.ts` in a checkout (Node runs the sources), `.js` in the built package. */
const moduleExtension = import.meta.url.slice(import.meta.url.lastIndexOf("."))

const isPipeline = (u: unknown): u is Pipeline.Any =>
  typeof u === "object" && u !== null && "entries" in u && "name" in u && Array.isArray((u as Pipeline.Any).entries)

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
    return isPipeline(candidate)
      ? Effect.succeed(candidate)
      : Effect.fail(usage(
        `${file} does not export a Pipeline`,
        "export the recipe as the module's default export (or as `pipeline`)"
      ))
  }))

/** Names of the recipes in `pipelines/`. */
export const declaredNames = (): ReadonlyArray<string> =>
  fs.readdirSync(pipelinesDir).filter((f) => f.endsWith(moduleExtension) && !f.endsWith(".d.ts"))
    .map((f) => f.slice(0, -moduleExtension.length)).sort()

export const resolve = (nameOrPath: string) => {
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
