/**
 * The house rules of src/ (README, "Layout"): each room imports only from the
 * rooms below it, no file imports in a circle, and the job queue knows
 * nothing of the HTTP service. Package entry points (`src/index.ts`,
 * `src/<room>/index.ts`, `src/testing/`) gather exports from every room and
 * the declared recipes, so the order does not bind them.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { makeTempDir, repoRoot } from "../support/cli.ts"
import { circles, importGraph, upwardImports } from "../support/importGraph.ts"

/** Bottom-up: a room may import the rooms before it. */
export const ROOMS = [
  "files",
  "pipeline",
  "checkpoint",
  "hub",
  "onnx",
  "audio",
  "bark",
  "dev",
  "observability",
  "jobs",
  "server",
  "cli"
] as const

const isEntry = (file: string) => file === "index.ts" || /^[^/]+\/index\.ts$/.test(file) || file.startsWith("testing/")

const src = path.join(repoRoot, "src")

describe("src/ layout", () => {
  const graph = importGraph(src)

  it("has every room in the order, and no other", () => {
    const rooms = fs.readdirSync(src, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
    expect(rooms.filter((r) => r !== "testing").sort()).toEqual([...ROOMS].sort())
  })

  it("imports only downwards", () => {
    expect(upwardImports(graph, ROOMS, isEntry)).toEqual([])
  })

  it("has no import circle", () => {
    expect(circles(graph)).toEqual([])
  })

  it("keeps the job queue out of the HTTP service", () => {
    const intoServer = [...graph].filter(([file]) => file.startsWith("jobs/"))
      .flatMap(([file, imports]) => imports.filter((t) => t.startsWith("server/")).map((t) => `${file} -> ${t}`))
    expect(intoServer).toEqual([])
  })
})

describe("the import scan", () => {
  it("finds a circle, an upward import and every import form, as planted", () => {
    const dir = makeTempDir("bark-layout-")
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
      fs.writeFileSync(path.join(dir, file), text)
    }
    write("jobs/a.ts", `import type { B } from "./b.ts"\nexport const a = 1\n`)
    write("jobs/b.ts", `export {\n  a\n} from "./a.ts"\nexport type B = number\nconst later = () => import("../server/c.ts")\n`)
    write("server/c.ts", `import "./d.ts"\nexport const c = 1\n`)
    write("server/d.ts", `export {}\n`)
    try {
      const graph = importGraph(dir)
      expect(graph.get("jobs/b.ts")).toEqual(["jobs/a.ts", "server/c.ts"])
      expect(graph.get("server/c.ts")).toEqual(["server/d.ts"])
      expect(circles(graph)).toEqual([["jobs/a.ts", "jobs/b.ts"]])
      expect(upwardImports(graph, ["jobs", "server"], () => false)).toEqual(["jobs/b.ts -> server/c.ts"])
      expect(upwardImports(graph, ["server"], () => false)).toEqual([
        `jobs/a.ts: room "jobs" has no place in the order`,
        `jobs/b.ts: room "jobs" has no place in the order`
      ])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
