import { afterAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import * as JsonlSink from "../../src/pipeline/sinks/jsonl.ts"
import { makeTempDir, runCliProcess } from "../support/cli.ts"

const dirs: Array<string> = []
const temp = () => {
  const d = makeTempDir("bark-cli-")
  dirs.push(d)
  return d
}
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

/** A recipe module with only the first two startup stages: runs in milliseconds and needs no model. */
const writeRecipe = (dir: string) => {
  const file = path.join(dir, "recipe.ts")
  const src = path.resolve(import.meta.dirname, "../../src")
  fs.writeFileSync(
    file,
    `import * as Pipeline from "${src}/pipeline/Pipeline.ts"
import * as CacheDirs from "${src}/bark/stages/cacheDirs.ts"
import * as Environment from "${src}/bark/stages/environment.ts"
export default Pipeline.make("probe", "environment and cache only").pipe(
  Pipeline.add(Environment.stage),
  Pipeline.add(CacheDirs.stage)
)
`
  )
  return file
}

describe("bark-pipeline run (child process)", () => {
  it("exits 0, writes a schema-valid trace and prints the report as JSON", async () => {
    const dir = temp()
    const trace = path.join(dir, "t.jsonl")
    const cache = path.join(dir, "cache")
    const r = await runCliProcess(["run", writeRecipe(dir), "--trace", trace, "--json", "--set", `BARK_CACHE_DIR=${cache}`])
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.pipeline).toBe("probe")
    expect(report.results.map((x: { outcome: string }) => x.outcome)).toEqual(["succeeded", "succeeded"])
    expect(report.environment.onnxruntime.executionProviders).toContain("cpu")
    expect(report.results[1].metadata.root).toBe(cache)
    expect(fs.existsSync(path.join(cache, "hub"))).toBe(true)
    const events = Effect.runSync(JsonlSink.read(trace))
    expect(events.filter((e) => e.type === "stage-finished").length).toBe(2)
    expect(events.at(-1)?.type).toBe("pipeline-finished")
    expect(r.stderr).toMatch(/✓ cache-dirs\s+succeeded/)
  })

  it("exits 1 with the remediation when a stage fails fatally (cache root not creatable)", async () => {
    const dir = temp()
    const file = path.join(dir, "a-file")
    fs.writeFileSync(file, "not a directory")
    const trace = path.join(dir, "t.jsonl")
    const r = await runCliProcess(["run", writeRecipe(dir), "--trace", trace, "--set", `BARK_CACHE_DIR=${file}/cache`])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/✗ cache-dirs\s+failed/)
    expect(r.stderr).toContain("fix: set BARK_CACHE_DIR (or HF_HOME; HF_HUB_CACHE for model files alone) to a writable directory")
    const events = Effect.runSync(JsonlSink.read(trace))
    const finished = events.flatMap((e) => (e.type === "stage-finished" ? [e.result] : []))
    expect(finished.map((x) => x.outcome)).toEqual(["succeeded", "failed"])
    expect(finished[1]?.error?.tag).toBe("CacheDirError")
  })

  it("exits 2 for an unknown pipeline, a bad config value and a bad flag, saying what to do", async () => {
    const unknown = await runCliProcess(["run", "no-such-recipe"])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain(`unknown pipeline "no-such-recipe"`)
    expect(unknown.stderr).toContain("fix: use one of:")
    const dir = temp()
    const badConfig = await runCliProcess(["run", writeRecipe(dir), "--set", "SUNO_USE_SMALL_MODELS=maybe", "--set", `BARK_CACHE_DIR=${dir}/c`])
    expect(badConfig.code).toBe(2)
    expect(badConfig.stderr).toContain("SUNO_USE_SMALL_MODELS=maybe is not a boolean")
    const badFlag = await runCliProcess(["run", "startup", "--bogus"])
    expect(badFlag.code).toBe(2)
  })

  it("plan and list describe recipes without running them", async () => {
    const dir = temp()
    const cache = path.join(dir, "never-created")
    const plan = await runCliProcess(["plan", writeRecipe(dir), "--set", `BARK_CACHE_DIR=${cache}`])
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toMatch(/1\. environment\s+run/)
    expect(plan.stdout).toContain("provides bark-pipeline/CacheDirs")
    expect(fs.existsSync(cache)).toBe(false)
    const list = await runCliProcess(["list"])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/^startup\s+/m)
    expect(list.stdout).toMatch(/^synthesis\s+synthesis recipe \(per request, --synthesis\)/m)
    expect(list.stdout).toMatch(/^draft\s+synthesis recipe/m)
  })

  it("plans a synthesis recipe: both parts, with the skips config decides here; running one is a usage error", async () => {
    const plan = await runCliProcess(["plan", "synthesis"])
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toContain("synthesis (synthesis recipe, run for every request)")
    expect(plan.stdout).toMatch(/synthesis\/prepare:[\s\S]*1\. normalize-text\s+run[\s\S]*4\. audio-cache\s+skip \(BARK_AUDIO_CACHE is off\)/)
    expect(plan.stdout).toMatch(/synthesis\/chunk:[\s\S]*4\. fine\s+run[\s\S]*6\. post\s+run/)
    const draft = await runCliProcess(["plan", "draft", "--set", "BARK_AUDIO_CACHE=on", "--json"])
    expect(draft.code, draft.stderr).toBe(0)
    const json = JSON.parse(draft.stdout)
    expect(json.synthesis).toBe("draft")
    expect(json.chunk.entries.find((e: { stage: string }) => e.stage === "fine").skipReason).toContain("draft lane")
    expect(json.prepare.entries.find((e: { stage: string }) => e.stage === "audio-cache").skipReason).toBeUndefined()
    const run = await runCliProcess(["run", "draft"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("--synthesis draft")
  })
})
