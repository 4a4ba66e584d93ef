/**
 * The package as a user gets it: `npm pack` (which builds dist/ with tsc),
 * the tarball installed into a fresh project with its peers (onnxruntime's
 * CUDA download skipped; packages from the registry or npm's cache), then in
 * that project: a TypeScript consumer that builds a custom pipeline with
 * `bark-pipeline/pipeline` and swaps a stage is type-checked and run (and
 * loads no onnxruntime), so are the README's examples, the demo runs through
 * the promise API, the CLI's
 * `plan` and `list` work through `npx`, on the current Node and on the lowest
 * supported one (22.19, from the `node` npm package), and an older Node gets
 * one line saying what to do. The tree holds one copy of `effect`.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeTempDir, repoRoot } from "../support/cli.ts"

const LOWEST_NODE = "22.19.0"
let dir: string
let app: string
let node22: string
let tarball: string

/** npm, as the user runs it (the pinned Node's, on this PATH). */
const npm = (args: ReadonlyArray<string>, cwd: string) =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, npm_config_onnxruntime_node_install: "skip" },
    stdio: ["ignore", "pipe", "pipe"]
  })

const run = (command: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnSync(command, args, { cwd: app, encoding: "utf8", env: { ...process.env, ...env }, timeout: 180_000 })

/** Every folder of a package named `name` under `root`'s node_modules trees. */
const copiesOf = (root: string, name: string): Array<string> => {
  const found: Array<string> = []
  const walk = (modules: string) => {
    if (!fs.existsSync(modules)) return
    for (const entry of fs.readdirSync(modules)) {
      if (entry.startsWith(".")) continue
      const scoped = entry.startsWith("@")
      for (const pkg of scoped ? fs.readdirSync(path.join(modules, entry)).map((e) => path.join(entry, e)) : [entry]) {
        const at = path.join(modules, pkg)
        if (pkg === name) found.push(at)
        walk(path.join(at, "node_modules"))
      }
    }
  }
  walk(path.join(root, "node_modules"))
  return found
}

const consumer = `import { Context, Effect } from "effect"
import { MemorySink, Pipeline, Runner, Stage } from "bark-pipeline/pipeline"

class Greeting extends Context.Service<Greeting, { readonly text: string }>()("app/Greeting") {}
class Loud extends Context.Service<Loud, { readonly text: string }>()("app/Loud") {}

const greet = Stage.make({ name: "greet", purpose: "say hello", provides: Greeting, build: Effect.succeed({ text: "hello" }) })
const shout = Stage.make({
  name: "shout",
  purpose: "say it louder",
  provides: Loud,
  needs: [Greeting],
  build: Effect.gen(function*() {
    const greeting = yield* Greeting
    return { text: greeting.text.toUpperCase() + "!" }
  })
})
const recipe = Pipeline.make("app", "a consumer's own recipe").pipe(Pipeline.add(greet), Pipeline.add(shout))

// Swap the greeting for another stage that provides the same service.
const french = Stage.make({ name: "greet", purpose: "say bonjour", provides: Greeting, build: Effect.succeed({ text: "bonjour" }) })
const sink = MemorySink.make()
const ready = await Effect.runPromise(Effect.scoped(Runner.run(recipe.pipe(Pipeline.replace(Greeting, french)), { sinks: [sink] })))
const loud = Context.get(ready.context as Context.Context<Loud>, Loud)
console.log(JSON.stringify({ loud: loud.text, outcome: ready.report.outcome, events: sink.events.length }))
`

const promiseApi = (cacheDir: string) => `import { load } from "bark-pipeline"
import { recipes } from "bark-pipeline/bark"

const bark = await load({ pipeline: recipes.demo, cacheDir: ${JSON.stringify(cacheDir)}, config: { BARK_DEMO_OUT: "demo.wav", BARK_ENGINE: "worker" } })
const { audio, sampleRate } = await bark.synthesize("Hello from the package.", { seed: 1 })
await bark.close()
console.log(JSON.stringify({ outcome: bark.report.outcome, sampleRate, samples: audio.length }))
`

/** The README's custom recipe ("Using the package"), type-checked. */
const readmeRecipe = `import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Pipeline, Runner, Stage } from "bark-pipeline/pipeline"
import { CacheDirs, recipes } from "bark-pipeline/bark"

const sharedCache = Stage.make({
  name: "cache-dirs",
  purpose: "use the team's shared model cache",
  provides: CacheDirs.CacheDirs,
  build: CacheDirs.resolve
})
const recipe = recipes.cpu.pipe(
  Pipeline.replace(CacheDirs.CacheDirs, sharedCache),
  Pipeline.withConfig({ BARK_CACHE_DIR: "/srv/models", BARK_DTYPE: "q4" })
)

export const main = () => Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const ready = yield* Runner.run(recipe)
  console.log(ready.report.outcome)
})).pipe(Effect.provide(NodeServices.layer)))
`

/** The README's mock-engine test, with plain checks for vitest's (the app has no vitest, nor Node's types). */
const readmeMock = `import { load } from "bark-pipeline"
import { mockRecipe } from "bark-pipeline/testing"

const bark = await load({ pipeline: mockRecipe })
const { audio, sampleRate } = await bark.synthesize("A red car drives by.", { voice: "v2/en_speaker_6", seed: 1 })
if (sampleRate !== 24_000 || audio.length === 0) throw new Error("unexpected audio: " + sampleRate + " Hz, " + audio.length + " samples")
await bark.close()
console.log(audio.length)
`

/** Fails the import of onnxruntime-node, to prove an entry point does not load it. */
const noOnnxruntime = `import { registerHooks } from "node:module"
registerHooks({
  resolve(specifier, context, next) {
    if (specifier.startsWith("onnxruntime")) throw new Error("onnxruntime was imported: " + specifier)
    return next(specifier, context)
  }
})
`

beforeAll(() => {
  dir = makeTempDir("bark-package-")
  app = path.join(dir, "app")
  fs.mkdirSync(app)
  npm(["pack", "--pack-destination", dir], repoRoot)
  tarball = path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith(".tgz"))!)
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  npm(["install", tarball], app)
  fs.writeFileSync(path.join(app, "consumer.ts"), consumer)
  fs.writeFileSync(path.join(app, "promise.ts"), promiseApi(path.join(dir, "cache")))
  fs.writeFileSync(path.join(app, "no-onnxruntime.mjs"), noOnnxruntime)
  fs.writeFileSync(path.join(app, "readme-recipe.ts"), readmeRecipe)
  fs.writeFileSync(path.join(app, "readme-mock.ts"), readmeMock)
  fs.writeFileSync(
    path.join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2024", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: false, types: [] },
      files: ["consumer.ts", "promise.ts", "readme-recipe.ts", "readme-mock.ts"]
    })
  )
  const lowest = path.join(dir, "node22")
  fs.mkdirSync(lowest)
  fs.writeFileSync(path.join(lowest, "package.json"), JSON.stringify({ name: "node22", private: true }))
  npm(["install", `node@${LOWEST_NODE}`], lowest)
  node22 = path.join(lowest, "node_modules", "node", "bin", "node")
}, 600_000)

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("the tarball", () => {
  it("passes publint and Are the Types Wrong (ESM-only profile)", () => {
    const bin = (name: string) => path.join(repoRoot, "node_modules", ".bin", name)
    const publint = spawnSync(bin("publint"), ["run", tarball, "--strict"], { encoding: "utf8" })
    expect(publint.status, publint.stdout + publint.stderr).toBe(0)
    expect(publint.stdout).toContain("All good")
    const attw = spawnSync(bin("attw"), [tarball, "--profile", "esm-only"], { encoding: "utf8" })
    expect(attw.status, attw.stdout + attw.stderr).toBe(0)
  })
})

describe("the installed package", () => {
  it("holds one copy of effect, and no src/ or test/", () => {
    expect(copiesOf(app, "effect")).toHaveLength(1)
    expect(copiesOf(app, "@effect/platform-node")).toHaveLength(1)
    const installed = path.join(app, "node_modules", "bark-pipeline")
    expect(fs.existsSync(path.join(installed, "dist", "src", "index.d.ts"))).toBe(true)
    expect(fs.existsSync(path.join(installed, "src"))).toBe(false)
    expect(fs.existsSync(path.join(installed, "test"))).toBe(false)
  })

  it("type-checks a consumer that builds its own pipeline and swaps a stage, and the README's examples", () => {
    const tsc = path.join(repoRoot, "node_modules", ".bin", "tsc")
    const r = run(tsc, ["-p", "tsconfig.json"])
    expect(r.status, r.stdout + r.stderr).toBe(0)
  })

  it("runs that consumer, and bark-pipeline/pipeline loads no onnxruntime", () => {
    const r = run(process.execPath, ["--import", "./no-onnxruntime.mjs", "consumer.ts"])
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ loud: "BONJOUR!", outcome: "succeeded", events: expect.any(Number) })
    const guard = run(process.execPath, ["--import", "./no-onnxruntime.mjs", "--input-type=module", "-e", "await import('bark-pipeline/bark')"])
    expect(guard.status).not.toBe(0)
    expect(guard.stderr).toContain("onnxruntime was imported") // the guard works: the Bark entry does load it
  })

  it("runs the demo through the promise API, on the worker engine (dist's worker module)", () => {
    const r = run(process.execPath, ["promise.ts"])
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!)
    expect(out.outcome).not.toBe("failed")
    expect(out.sampleRate).toBe(24_000)
    expect(out.samples).toBeGreaterThan(0)
  }, 180_000)

  it("runs the README's mock-engine test: load() on the mock recipe", () => {
    const r = run(process.execPath, ["readme-mock.ts"], { BARK_CACHE_DIR: path.join(dir, "cache") })
    expect(r.status, r.stderr).toBe(0)
    expect(Number(r.stdout.trim())).toBeGreaterThan(0)
  })

  it("runs the CLI through npx: plan startup, list and run demo", () => {
    const plan = run("npx", ["bark-pipeline", "plan", "startup"])
    expect(plan.status, plan.stderr).toBe(0)
    for (const stage of ["fetch-weights", "safe-load", "preload", "ready"]) expect(plan.stdout).toContain(stage)
    const list = run("npx", ["bark-pipeline", "list"])
    expect(list.status, list.stderr).toBe(0)
    expect(list.stdout).toMatch(/^demo\s/m)
    const demo = run("npx", ["bark-pipeline", "run", "demo", "--out", "npx-demo.wav", "--set", `BARK_CACHE_DIR=${path.join(dir, "cache")}`])
    expect(demo.status, demo.stderr).toBe(0)
    expect(fs.statSync(path.join(app, "npx-demo.wav")).size).toBeGreaterThan(44)
  }, 180_000)

  it(`works on the lowest supported Node (${LOWEST_NODE}): the consumer and the CLI`, () => {
    expect(run(node22, ["--version"]).stdout.trim()).toBe(`v${LOWEST_NODE}`)
    const r = run(node22, ["consumer.ts"]) // Node 22.18+ strips types by default, as 24 does
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).loud).toBe("BONJOUR!")
    const bin = path.join(app, "node_modules", "bark-pipeline", "bin", "bark-pipeline.js")
    const list = run(node22, [bin, "list"])
    expect(list.status, list.stderr).toBe(0)
    expect(list.stdout).toMatch(/^startup\s/m)
  })

  it("on an older Node, the CLI prints one line naming the Node it needs", () => {
    // The bin as an older Node sees it: process.versions says 20.19.0.
    const bin = path.join(app, "node_modules", "bark-pipeline", "bin", "bark-pipeline.js")
    const older = spawnSync(node22, ["--input-type=module", "-e",
      `Object.defineProperty(process.versions, "node", { value: "20.19.0" }); await import(${JSON.stringify(bin)})`], { cwd: app, encoding: "utf8" })
    expect(older.status).toBe(1)
    expect(older.stderr.trim().split("\n")).toHaveLength(1)
    expect(older.stderr).toContain("needs Node.js >= 22.19.0")
  })
})
