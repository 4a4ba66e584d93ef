/**
 * The package as a user gets it: `npm pack` (which builds dist/ with tsc),
 * the tarball installed into a fresh project with its peers and `@types/node`
 * (packages from the registry or npm's cache), under `--strict-allow-scripts`
 * with the `allowScripts` denials a consumer writes (onnxruntime-node's CUDA
 * download, msgpackr-extract, protobufjs), so a new dependency with an
 * unreviewed install script fails the install. Then in that project: a
 * TypeScript consumer that builds a custom pipeline with
 * `bark-pipeline/pipeline` and swaps a stage is type-checked (with
 * `skipLibCheck: false` and every `@types` package included automatically, on
 * TypeScript 7 and 5.9; no `@types/dom-*` package reaches the app) and run (and
 * loads no onnxruntime), so are the README's examples, the demo runs through
 * the promise API, the service started through `bark-pipeline/server` answers
 * mp3 and, without the optional AAC packages, refuses aac with
 * `format_unavailable`, the CLI's
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
/** The TypeScript before 7 that consumers still use; its `types` default includes every `@types` package. */
const TYPESCRIPT_5 = "5.9"
/**
 * What a consumer of the tarball writes in its package.json: the dependencies
 * whose install scripts need not run (onnxruntime-node's only downloads CUDA
 * binaries; msgpackr-extract's prebuilt binaries arrive as optional packages;
 * protobufjs 6 checks a version). With `--strict-allow-scripts`, any other
 * install script fails the install.
 */
const CONSUMER_ALLOW_SCRIPTS = { "onnxruntime-node": false, "msgpackr-extract": false, "protobufjs": false }
let dir: string
let app: string
let node22: string
let tsc5: string
let tarball: string

/** npm, as the user runs it (the pinned Node's, on this PATH). */
const npm = (args: ReadonlyArray<string>, cwd: string) =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })

const run = (command: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnSync(command, args, { cwd: app, encoding: "utf8", env: { ...process.env, ...env }, timeout: 180_000 })

/** Every installed package under `root`'s node_modules trees: its name and folder. */
const packagesIn = (root: string): Array<{ readonly name: string; readonly at: string }> => {
  const found: Array<{ readonly name: string; readonly at: string }> = []
  const walk = (modules: string) => {
    if (!fs.existsSync(modules)) return
    for (const entry of fs.readdirSync(modules)) {
      if (entry.startsWith(".")) continue
      const scoped = entry.startsWith("@")
      for (const pkg of scoped ? fs.readdirSync(path.join(modules, entry)).map((e) => path.join(entry, e)) : [entry]) {
        const at = path.join(modules, pkg)
        found.push({ name: pkg.split(path.sep).join("/"), at })
        walk(path.join(at, "node_modules"))
      }
    }
  }
  walk(path.join(root, "node_modules"))
  return found
}

/** Every folder of a package named `name` under `root`'s node_modules trees. */
const copiesOf = (root: string, name: string): Array<string> =>
  packagesIn(root).filter((pkg) => pkg.name === name).map((pkg) => pkg.at)

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

/** The README's custom recipe ("A short tour"), type-checked. */
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

/** The README's mock-engine test, with plain checks for vitest's (the app has no vitest). */
const readmeMock = `import { load } from "bark-pipeline"
import { mockRecipe } from "bark-pipeline/testing"

const bark = await load({ pipeline: mockRecipe })
const { audio, sampleRate } = await bark.synthesize("A red car drives by.", { voice: "v2/en_speaker_6", seed: 1 })
if (sampleRate !== 24_000 || audio.length === 0) throw new Error("unexpected audio: " + sampleRate + " Hz, " + audio.length + " samples")
await bark.close()
console.log(audio.length)
`

/**
 * The service on the mock recipe through the package's entries, on a port the
 * OS picks: OpenAI's speech request for aac, then for mp3; each answer's
 * status, content type, size, first bytes and (for JSON) body.
 */
const serveFormats = `import { Effect } from "effect"
import { Server } from "bark-pipeline/server"
import { mockRecipe } from "bark-pipeline/testing"

const speech = (url: string, format: string) =>
  Effect.promise(async () => {
    const response = await fetch(url + "/v1/audio/speech", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tts-1", input: "Hi.", voice: "alloy", response_format: format })
    })
    const body = Buffer.from(await response.arrayBuffer())
    const contentType = response.headers.get("content-type") ?? ""
    return {
      status: response.status,
      contentType,
      bytes: body.length,
      head: body.subarray(0, 3).toString("hex"),
      json: contentType.includes("json") ? JSON.parse(body.toString("utf8")) : null
    }
  })

const config = { BARK_HOST: "127.0.0.1", BARK_PORT: "0", BARK_JOBS: "off", BARK_CACHE_DIR: process.env["APP_CACHE_DIR"] ?? "cache" }
const result = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const running = yield* Server.start(mockRecipe, { config })
  const aac = yield* speech(running.url, "aac")
  const mp3 = yield* speech(running.url, "mp3")
  return { url: running.url, aac, mp3 }
})))
console.log(JSON.stringify(result))
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
  fs.writeFileSync(
    path.join(app, "package.json"),
    JSON.stringify({ name: "app", private: true, type: "module", allowScripts: CONSUMER_ALLOW_SCRIPTS })
  )
  // Node's types, as a consumer that writes TypeScript for Node adds them; not the optional AAC peers.
  npm(["install", "--strict-allow-scripts", tarball, "@types/node@24"], app)
  fs.writeFileSync(path.join(app, "consumer.ts"), consumer)
  fs.writeFileSync(path.join(app, "promise.ts"), promiseApi(path.join(dir, "cache")))
  fs.writeFileSync(path.join(app, "no-onnxruntime.mjs"), noOnnxruntime)
  fs.writeFileSync(path.join(app, "readme-recipe.ts"), readmeRecipe)
  fs.writeFileSync(path.join(app, "readme-mock.ts"), readmeMock)
  fs.writeFileSync(path.join(app, "serve-formats.ts"), serveFormats)
  // No `types`: TypeScript 5.9 includes every @types package it finds, as in a normal project.
  fs.writeFileSync(
    path.join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2024", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: false },
      files: ["consumer.ts", "promise.ts", "readme-recipe.ts", "readme-mock.ts", "serve-formats.ts"]
    })
  )
  const lowest = path.join(dir, "node22")
  fs.mkdirSync(lowest)
  // The `node` package's preinstall installs the binary: approved, as a project that pins Node does.
  fs.writeFileSync(path.join(lowest, "package.json"), JSON.stringify({ name: "node22", private: true, allowScripts: { node: true } }))
  npm(["install", "--strict-allow-scripts", `node@${LOWEST_NODE}`], lowest)
  node22 = path.join(lowest, "node_modules", "node", "bin", "node")
  const ts5 = path.join(dir, "typescript5")
  fs.mkdirSync(ts5)
  fs.writeFileSync(path.join(ts5, "package.json"), JSON.stringify({ name: "typescript5", private: true }))
  npm(["install", "--strict-allow-scripts", `typescript@${TYPESCRIPT_5}`], ts5)
  tsc5 = path.join(ts5, "node_modules", "typescript", "bin", "tsc")
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

  it("was installed under the consumer's allowScripts denials, with no DOM types and without the optional AAC packages", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(app, "package.json"), "utf8"))
    expect(manifest.allowScripts).toEqual(CONSUMER_ALLOW_SCRIPTS)
    expect(manifest.dependencies).toHaveProperty("@types/node")
    // mediabunny would bring @types/dom-webcodecs, whose globals clash with TypeScript's DOM lib.
    expect(packagesIn(app).map((pkg) => pkg.name).filter((name) => name.startsWith("@types/dom-"))).toEqual([])
    expect(copiesOf(app, "mediabunny")).toEqual([])
    expect(copiesOf(app, "@mediabunny/aac-encoder")).toEqual([])
    // The denied scripts did not run: onnxruntime-node has its CPU binaries only, no CUDA provider.
    const ortBin = path.join(app, "node_modules", "onnxruntime-node", "bin", "napi-v6", process.platform, process.arch)
    expect(fs.existsSync(path.join(ortBin, "onnxruntime_binding.node"))).toBe(true)
    expect(fs.readdirSync(ortBin).filter((f) => f.includes("providers_cuda"))).toEqual([])
  })

  it("type-checks a consumer that builds its own pipeline and swaps a stage, and the README's examples (TypeScript 7)", () => {
    const tsc = path.join(repoRoot, "node_modules", ".bin", "tsc")
    expect(run(tsc, ["--version"]).stdout).toMatch(/^Version 7\./)
    const r = run(tsc, ["-p", "tsconfig.json"])
    expect(r.status, r.stdout + r.stderr).toBe(0)
    // TypeScript 6+ defaults `types` to []; "*" includes every @types package, as 5.x did without `types`.
    const all = run(tsc, ["-p", "tsconfig.json", "--types", "*"])
    expect(all.status, all.stdout + all.stderr).toBe(0)
  })

  it(`type-checks them on TypeScript ${TYPESCRIPT_5}, which includes every @types package`, () => {
    expect(run(process.execPath, [tsc5, "--version"]).stdout).toContain(`Version ${TYPESCRIPT_5}.`)
    const r = run(process.execPath, [tsc5, "-p", "tsconfig.json"])
    expect(r.status, r.stdout + r.stderr).toBe(0)
  }, 120_000)

  it("serves through bark-pipeline/server: mp3 is audio, aac (its packages not installed) a 400 format_unavailable", () => {
    const r = run(process.execPath, ["serve-formats.ts"], { APP_CACHE_DIR: path.join(dir, "cache") })
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!)
    expect(out.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(out.aac.status).toBe(400)
    expect(out.aac.contentType).toContain("application/json")
    expect(out.aac.json).toEqual({
      error: {
        message: expect.stringContaining("mediabunny, @mediabunny/aac-encoder"),
        type: "invalid_request_error",
        param: "response_format",
        code: "format_unavailable",
        tag: "FormatUnavailable",
        remediation: expect.stringContaining("npm install mediabunny @mediabunny/aac-encoder")
      }
    })
    expect(out.mp3.status).toBe(200)
    expect(out.mp3.contentType).toBe("audio/mpeg")
    expect(out.mp3.bytes).toBeGreaterThan(100)
    expect(out.mp3.head).toMatch(/^(494433|ff[ef])/) // an ID3 tag or an MPEG frame sync
  }, 120_000)

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
