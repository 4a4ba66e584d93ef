/**
 * The import graph of a source tree, read as text: every relative
 * `import … from`, `export … from`, side-effect `import "…"` and dynamic
 * `import("…")` of every `.ts` file, resolved to the file it names. Enough to
 * check the house rules (rooms import downwards, no circles) without a
 * compiler API; type-only imports count, as they do for a reader.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** File (relative to the root, `/`-separated) → the files it imports, in the tree or outside it. */
export type ImportGraph = ReadonlyMap<string, ReadonlyArray<string>>

const SPECIFIERS = [
  /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm,
  /^\s*import\s*["']([^"']+)["']/gm,
  /\bimport\(\s*["']([^"']+)["']\s*\)/g
]

const tsFiles = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const at = path.join(dir, e.name)
    return e.isDirectory() ? tsFiles(at) : e.name.endsWith(".ts") ? [at] : []
  })

/** The graph of `root`'s files; imports leaving `root` keep their path relative to it (`../pipelines/x.ts`). */
export const importGraph = (root: string): ImportGraph => {
  const graph = new Map<string, Array<string>>()
  for (const file of tsFiles(root)) {
    const text = fs.readFileSync(file, "utf8")
    const imports = SPECIFIERS.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]!))
      .filter((s) => s.startsWith("."))
      .map((s) => path.relative(root, path.resolve(path.dirname(file), s)).split(path.sep).join("/"))
    graph.set(path.relative(root, file).split(path.sep).join("/"), [...new Set(imports)])
  }
  return graph
}

/** The room of a file: its top folder (`bark/gpt/graph.ts` → `bark`), or `.` for a file at the root. */
export const roomOf = (file: string): string => file.includes("/") ? file.slice(0, file.indexOf("/")) : "."

/** The import circles: strongly connected groups of more than one file (Tarjan), each listed from one of its files. */
export const circles = (graph: ImportGraph): Array<Array<string>> => {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const found: Array<Array<string>> = []
  const visit = (v: string) => {
    index.set(v, index.size)
    low.set(v, index.get(v)!)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const group: Array<string> = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        group.push(w)
      } while (w !== v)
      if (group.length > 1) found.push(group.sort())
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return found
}

/**
 * The imports that break the room order: `ranks` lists the rooms bottom-up,
 * and a file may import its own room and the rooms listed before it. Files
 * for which `exempt` holds (package entry points) are not checked; a room
 * missing from `ranks` is reported as such.
 */
export const upwardImports = (
  graph: ImportGraph,
  ranks: ReadonlyArray<string>,
  exempt: (file: string) => boolean
): Array<string> =>
  [...graph].flatMap(([file, imports]) => {
    if (exempt(file)) return []
    const from = ranks.indexOf(roomOf(file))
    if (from === -1) return [`${file}: room "${roomOf(file)}" has no place in the order`]
    return imports
      .filter((target) => roomOf(target) !== roomOf(file) && !(ranks.indexOf(roomOf(target)) >= 0 && ranks.indexOf(roomOf(target)) < from))
      .map((target) => `${file} -> ${target}`)
  })
