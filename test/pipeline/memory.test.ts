import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Memory from "../../src/pipeline/memory.ts"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"
import * as Stage from "../../src/pipeline/Stage.ts"
import * as ConsoleSink from "../../src/pipeline/sinks/console.ts"
import { TraceLine } from "../../src/pipeline/TraceEvent.ts"
import type { StageResult } from "../../src/pipeline/StageResult.ts"

class Big extends Context.Service<Big, number>()("test/Big") {}
class Small extends Context.Service<Small, number>()("test/Small") {}

const MB = 1024 * 1024

/** Allocates `mb` MB, touches every page, then frees it at once (detaching the buffer releases its memory). */
const allocateAndFree = (mb: number) =>
  Effect.sync(() => {
    const buf = Buffer.alloc(mb * MB)
    buf.fill(7)
    const sum = buf[0]! + buf[buf.length - 1]!
    ;(buf.buffer as ArrayBuffer).transfer(0)
    return sum
  })

const recipe = Pipeline.make("peaks", "one stage peaks, the next does not").pipe(
  Pipeline.add(Stage.make({ name: "big", purpose: "allocates 200 MB and frees it", provides: Big, build: allocateAndFree(200) })),
  Pipeline.add(Stage.make({ name: "small", purpose: "allocates nothing", provides: Small, build: Effect.succeed(1) }))
)

const light = Pipeline.make("light", "two cheap stages").pipe(
  Pipeline.add(Stage.make({ name: "big", purpose: "cheap here", provides: Big, build: Effect.succeed(1) })),
  Pipeline.add(Stage.make({ name: "small", purpose: "allocates nothing", provides: Small, build: Effect.succeed(1) }))
)

const peakWorksHere = (() => {
  if (process.platform !== "linux") return false
  return Memory.procfs().reset()
})()

describe("peak RSS per stage", () => {
  it.effect.skipIf(!peakWorksHere)("a stage that allocates 200 MB and frees it records the peak; the next stage's peak starts afresh", () =>
    Effect.gen(function*() {
      const { report } = yield* Runner.run(recipe)
      const [big, small] = report.results as [StageResult, StageResult]
      assert.isDefined(big.peakRssMb)
      assert.isAtLeast(big.peakRssMb!, big.rssBeforeMb! + 190, JSON.stringify(big))
      assert.isBelow(big.rssAfterMb!, big.peakRssMb! - 150, "the memory was given back before the stage ended")
      assert.isDefined(small.peakRssMb)
      assert.isBelow(small.peakRssMb!, big.peakRssMb! - 150, "the reset at the stage's start forgets the earlier peak")
      assert.isAtLeast(small.peakRssMb!, small.rssAfterMb!)
      assert.strictEqual(ConsoleSink.peakStage(report.results)?.stage, "big")
    }))

  it.effect("where the high-water mark cannot be reset, the peak is left out and the stage still succeeds", () =>
    Effect.gen(function*() {
      const { report } = yield* Runner.run(light).pipe(
        Effect.provideService(Memory.PeakRssProbe, Memory.procfs(path.join(os.tmpdir(), "no-such-proc-dir", "self")))
      )
      assert.deepStrictEqual(report.results.map((r) => r.outcome), ["succeeded", "succeeded"])
      for (const r of report.results) {
        assert.notProperty(r, "peakRssMb")
        assert.isDefined(r.rssAfterMb)
      }
      const { report: none } = yield* Runner.run(light).pipe(Effect.provideService(Memory.PeakRssProbe, Memory.unavailable))
      assert.isTrue(none.results.every((r) => r.peakRssMb === undefined))
    }))

  it("procfs reads VmHWM from a status file and resets through clear_refs", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bark-proc-"))
    fs.writeFileSync(path.join(dir, "status"), "Name:\tnode\nVmPeak:\t 999999 kB\nVmHWM:\t  251904 kB\nVmRSS:\t  40960 kB\n")
    const probe = Memory.procfs(dir)
    assert.isTrue(probe.reset())
    assert.strictEqual(fs.readFileSync(path.join(dir, "clear_refs"), "utf8"), "5")
    assert.strictEqual(probe.readMb(), 246)
    assert.strictEqual(Memory.parseVmHwmMb("VmRSS: 1 kB\n"), undefined)
    fs.rmSync(dir, { recursive: true })
    assert.isFalse(probe.reset())
    assert.strictEqual(probe.readMb(), undefined)
    const measure = Memory.startPeak(probe)
    assert.strictEqual(measure(), undefined)
  })

  it("trace lines written before peaks were recorded still parse; new ones round-trip the peak", () => {
    const old = `{"type":"stage-finished","at":"2024-01-01T00:00:01.000Z","result":{"stage":"a","outcome":"succeeded","startedAt":"2024-01-01T00:00:00.000Z","durationMs":12,"rssBeforeMb":40,"rssAfterMb":41,"attempts":1,"metadata":{},"warnings":[]}}`
    const decoded = Schema.decodeUnknownSync(TraceLine)(old)
    assert.strictEqual(decoded.type, "stage-finished")
    if (decoded.type === "stage-finished") assert.isUndefined(decoded.result.peakRssMb)
    const withPeak = old.replace(`"rssAfterMb":41`, `"rssAfterMb":41,"peakRssMb":245.5`)
    const again = Schema.decodeUnknownSync(TraceLine)(withPeak)
    if (again.type === "stage-finished") assert.strictEqual(again.result.peakRssMb, 245.5)
    assert.strictEqual(Schema.encodeSync(TraceLine)(again), withPeak)
    assert.throws(() => Schema.decodeUnknownSync(TraceLine)(old.replace(`"rssAfterMb":41`, `"rssAfterMb":41,"peakRssMb":"lots"`)))
  })

  it("the console shows each stage's peak next to its RSS, and names the stage the process peaked in", () => {
    const base = { outcome: "succeeded" as const, durationMs: 12, attempts: 1, metadata: {}, warnings: [] }
    const results: Array<StageResult> = [
      { ...base, stage: "load", rssBeforeMb: 40, rssAfterMb: 60, peakRssMb: 245.4 },
      { ...base, stage: "warm", rssBeforeMb: 60, rssAfterMb: 61, peakRssMb: 90 },
      { ...base, stage: "old", rssBeforeMb: 61, rssAfterMb: 61 }
    ]
    assert.match(ConsoleSink.formatResult(results[0]!), /load\s+succeeded\s+12 ms\s+rss 40 → 60 MB, peak 245 MB$/)
    assert.match(ConsoleSink.formatResult(results[2]!), /rss 61 → 61 MB$/)
    const line = ConsoleSink.formatFinished({
      pipeline: "p",
      outcome: "succeeded",
      startedAt: "2024-01-01T00:00:00.000Z",
      durationMs: 1500,
      environment: { node: "v24", platform: "linux", arch: "x64", cpuModel: "cpu", cpuCount: 1, totalMemoryMb: 1, freeMemoryMb: 1 },
      results
    })
    assert.strictEqual(line, "p succeeded in 1.5 s · peak rss 245 MB during load")
    assert.strictEqual(ConsoleSink.formatFinished({
      pipeline: "p",
      outcome: "succeeded",
      startedAt: "2024-01-01T00:00:00.000Z",
      durationMs: 1500,
      environment: { node: "v24", platform: "linux", arch: "x64", cpuModel: "cpu", cpuCount: 1, totalMemoryMb: 1, freeMemoryMb: 1 },
      results: [results[2]!]
    }), "p succeeded in 1.5 s")
  })
})
