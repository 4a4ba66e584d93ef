/**
 * `bark-pipeline bench` as an operator runs it: a child process on a tiny
 * random model with tiny counts; the JSON object it prints has the documented
 * fields, the requested work was done, and every timing is positive.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeRandomCheckpoint, presets } from "../../src/dev/randomCheckpoint.ts"
import { writeBarkModelDir } from "../../src/dev/modelDir.ts"
import { makeTempDir, runCliProcess } from "../support/cli.ts"

const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

const tinyModel = async () => {
  const dir = makeTempDir("bark-bench-")
  dirs.push(dir)
  const model = path.join(dir, "tiny")
  await Effect.runPromise(
    Effect.flatMap(makeRandomCheckpoint(presets.tiny), (c) => writeBarkModelDir(model, c)).pipe(Effect.provide(NodeServices.layer))
  )
  return model
}

describe("bark-pipeline bench (child process)", () => {
  it("prints one JSON object with positive figures for the requested work", async () => {
    const model = await tinyModel()
    const r = await runCliProcess([
      "bench", "--model", model, "--semantic-tokens", "6", "--coarse-tokens", "10", "--fine-passes", "2", "--codec-frames", "8",
      "--threads", "1", "--json"
    ], { env: { BARK_CACHE_DIR: path.join(path.dirname(model), "cache") } })
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.model).toBe(model)
    expect(report.model_source).toBe("given")
    expect(report.execution_provider).toBe("cpu")
    expect(report.threads).toBe(1)
    expect(report.semantic.tokens).toBe(6)
    expect(report.coarse.tokens).toBeGreaterThanOrEqual(10)
    expect(report.fine.passes).toBe(2)
    expect(report.codec.frames).toBe(8)
    for (
      const value of [
        report.semantic.ms_per_token, report.coarse.ms_per_token, report.fine.seconds_per_pass, report.codec.seconds,
        report.peak_rss_mb, report.rtf, report.load_seconds
      ]
    ) {
      expect(value).toBeTypeOf("number")
      expect(value).toBeGreaterThan(0)
    }
  })

  it("--dtype fp32,q4 runs each dtype in its own process and reports them side by side", async () => {
    const model = await tinyModel()
    const r = await runCliProcess([
      "bench", "--model", model, "--dtype", "fp32,q4", "--semantic-tokens", "4", "--coarse-tokens", "4", "--fine-passes", "1",
      "--codec-frames", "4", "--threads", "1", "--json"
    ], { env: { BARK_CACHE_DIR: path.join(path.dirname(model), "cache") } })
    expect(r.code, r.stderr).toBe(0)
    const reports = JSON.parse(r.stdout)
    expect(reports.map((x: { dtype: string }) => x.dtype)).toEqual(["fp32", "q4"])
    const [fp32, q4] = reports
    // Each was converted by a first run, then measured by a second, on its cached entry.
    expect([fp32.convert_seconds, q4.convert_seconds]).toEqual([0, 0])
    expect([fp32.prepack, q4.prepack]).toEqual([false, true])
    expect(q4.cache_entry_mb).toBeLessThan(fp32.cache_entry_mb)
    expect(q4.semantic.tokens).toBe(4)
    const table = await runCliProcess(["bench", "--model", model, "--dtype", "fp32,q4", "--semantic-tokens", "4", "--coarse-tokens", "4",
      "--fine-passes", "1", "--codec-frames", "4", "--threads", "1"], { env: { BARK_CACHE_DIR: path.join(path.dirname(model), "cache") } })
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/semantic ms\/token +[0-9.]+ +[0-9.]+/)
  }, 120_000)

  it("--batch 1,2,4 decodes N sequences together and reports aggregate tokens/s, ms per step and sameness per size", async () => {
    const model = await tinyModel()
    const r = await runCliProcess([
      "bench", "--model", model, "--batch", "2,4", "--semantic-tokens", "12", "--coarse-tokens", "16", "--threads", "1", "--json"
    ], { env: { BARK_CACHE_DIR: path.join(path.dirname(model), "cache") } })
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout)
    for (const stage of ["semantic", "coarse"] as const) {
      expect(report[stage].map((f: { batch: number }) => f.batch)).toEqual([1, 2, 4]) // 1 added as the baseline
      for (const f of report[stage]) {
        expect(f.identical_to_alone).toBe(true)
        expect(f.ms_per_step).toBeGreaterThan(0)
        const rate = (f.batch * 1000) / f.ms_per_step
        expect(Math.abs(f.tokens_per_second_aggregate - rate) / rate).toBeLessThan(0.01) // both rounded to 4 digits
      }
    }
    expect(report.semantic[0].tokens).toBe(12)
    expect(report.speedup.semantic).toBeGreaterThan(0)
    expect(report).toMatchObject({ prepack: true, cpu_arena: true })
    const bad = await runCliProcess(["bench", "--model", "unused", "--batch", "2,x"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--batch 2,x: expected batch sizes 1..64")
  })

  it("exits 2 for an unknown dtype, naming the ones there are", async () => {
    const r = await runCliProcess(["bench", "--model", "unused", "--dtype", "fp32,q3"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("expected one or more of fp32, fp16, int8, q4")
  })

  it("exits 2 for counts out of range, saying which flag", async () => {
    const r = await runCliProcess(["bench", "--model", "unused", "--semantic-tokens", "1000"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("--semantic-tokens 1000 is outside 1..768")
  })
})
