/**
 * Streaming, measured: a child process (test/support/checkpointPeakRss.ts)
 * opens a checkpoint of a few hundred megabytes, reads it one tensor at a
 * time and reports its peak resident set (VmHWM). It must stay near the peak
 * of the same script opening nothing, far below the checkpoint's size; the
 * same file loaded whole (`loadCheckpoint`) must show its size, so the
 * measurement can tell the two apart.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll } from "vitest"
import type { PeakRssReport } from "../support/checkpointPeakRss.ts"
import { filledName, filledTorchZip, writeFilledSafetensors } from "../support/checkpointStateDict.ts"

const script = fileURLToPath(new URL("../support/checkpointPeakRss.ts", import.meta.url))
const MB = 1 << 20
/** Each tensor: 4 Mi float32 values, 16 MiB. */
const elements = 4 * MB
/** How far above the baseline a streaming read may peak: a few tensors in flight, far below any checkpoint here. */
const streamingSlack = 100 * MB

const measure = (...args: ReadonlyArray<string>): Promise<PeakRssReport> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", script, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) => {
      const last = stdout.trim().split("\n").at(-1) ?? ""
      if (code === 0 && last.startsWith("{")) resolve(JSON.parse(last) as PeakRssReport)
      else reject(new Error(`peak-RSS child (${args.join(" ")}) exited with ${code}:\n${stderr}\n${stdout}`))
    })
  })

const dir = mkdtempSync(join(tmpdir(), "checkpoint-streaming-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The same script opening nothing; it runs while the tests write their files. */
let baselineRun: Promise<PeakRssReport>
beforeAll(() => {
  baselineRun = measure("stream")
  baselineRun.catch(() => {}) // awaited by each test
})

/** Every filled tensor was read whole, with the value it was written with. */
const expectFilled = (report: PeakRssReport, count: number) => {
  expect(report.tensors).toBe(count)
  expect(report.bytes).toBe(count * elements * 4)
  for (let i = 0; i < count; i++) expect(report.ends[filledName(i)]).toEqual([i, i])
}

const figures = (label: string, size: number, report: PeakRssReport, baseline: PeakRssReport) =>
  console.log(
    `${label}: checkpoint ${(size / MB).toFixed(0)} MiB, peak RSS ${(report.peakRss / MB).toFixed(0)} MiB ` +
      `(baseline ${(baseline.peakRss / MB).toFixed(0)} MiB, +${((report.peakRss - baseline.peakRss) / MB).toFixed(0)} MiB)`
  )

describe("reading a large checkpoint tensor by tensor", () => {
  it("safetensors, 19 × 16 MiB: the peak stays near the baseline, while loading it whole shows its size", async () => {
    const path = join(dir, "large.safetensors")
    const size = writeFilledSafetensors(path, 19, elements)
    expect(statSync(path).size).toBe(size)
    const [streamed, whole] = await Promise.all([measure("stream", path), measure("whole", path)])
    const baseline = await baselineRun
    figures("safetensors streamed", size, streamed, baseline)
    figures("safetensors loaded whole", size, whole, baseline)
    expectFilled(streamed, 19)
    expect(whole.bytes).toBe(streamed.bytes)
    expect(streamed.peakRss).toBeLessThan(baseline.peakRss + streamingSlack)
    expect(whole.peakRss).toBeGreaterThan(baseline.peakRss + 0.9 * size)
  }, 60_000)

  it("a torch zip, 12 × 16 MiB storages (two deflated): the peak stays near the baseline", async () => {
    const path = join(dir, "large.pt")
    writeFileSync(path, filledTorchZip(12, elements, { deflated: new Set([3, 7]) }))
    const size = statSync(path).size
    const streamed = await measure("stream", path)
    const baseline = await baselineRun
    figures("torch zip streamed", size, streamed, baseline)
    expectFilled(streamed, 12)
    expect(streamed.peakRss).toBeLessThan(baseline.peakRss + streamingSlack)
  }, 60_000)
})
