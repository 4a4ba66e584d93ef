import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Metric } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, expect, it as vit } from "vitest"
import * as HealthFlags from "../../src/server/HealthFlags.ts"
import * as MemoryBudget from "../../src/pipeline/memoryBudget.ts"
import * as MemoryMonitor from "../../src/server/MemoryMonitor.ts"
import * as Metrics from "../../src/server/Metrics.ts"
import { json, metrics, parseMetrics, startServer } from "./support.ts"

const MB = 2 ** 20
const GB = 2 ** 30

const fakeCgroup = (files: Readonly<Record<string, string>>) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bark-cgroup-"))
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true })
    fs.writeFileSync(path.join(root, name), content)
  }
  return root
}

const roots: Array<string> = []
afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true })
})
const cgroup = (files: Readonly<Record<string, string>>) => {
  const root = fakeCgroup(files)
  roots.push(root)
  return root
}

describe("memory budget", () => {
  const host = 16 * GB

  vit("cgroup v2: memory.max is the budget", () => {
    const root = cgroup({ "memory.max": "2147483648\n", "memory/memory.limit_in_bytes": "1073741824\n" })
    expect(MemoryBudget.resolve({ cgroupRoot: root, hostTotalBytes: host })).toMatchObject({ limitMb: 2048, source: "cgroup-v2" })
  })

  vit("cgroup v2 \"max\" is no limit: the host's memory (or a v1 limit where one is mounted)", () => {
    expect(MemoryBudget.resolve({ cgroupRoot: cgroup({ "memory.max": "max\n" }), hostTotalBytes: host }))
      .toMatchObject({ limitMb: 16384, source: "host" })
    expect(MemoryBudget.resolve({ cgroupRoot: cgroup({ "memory.max": "max\n", "memory/memory.limit_in_bytes": "1073741824" }), hostTotalBytes: host }))
      .toMatchObject({ limitMb: 1024, source: "cgroup-v1" })
  })

  vit("cgroup v1: memory/memory.limit_in_bytes is the budget; its huge 'unlimited' value is no limit", () => {
    expect(MemoryBudget.resolve({ cgroupRoot: cgroup({ "memory/memory.limit_in_bytes": "1073741824\n" }), hostTotalBytes: host }))
      .toMatchObject({ limitMb: 1024, source: "cgroup-v1" })
    const unlimited = MemoryBudget.resolve({ cgroupRoot: cgroup({ "memory/memory.limit_in_bytes": "9223372036854771712\n" }), hostTotalBytes: host })
    expect(unlimited).toMatchObject({ limitMb: 16384, source: "host" })
    expect(unlimited.detail).toContain("no binding limit")
  })

  vit("no cgroup files, unreadable values or a limit above the host's memory: the host's memory", () => {
    expect(MemoryBudget.resolve({ cgroupRoot: cgroup({}), hostTotalBytes: host })).toMatchObject({ limitMb: 16384, source: "host" })
    expect(MemoryBudget.resolve({ cgroupRoot: cgroup({ "memory.max": "lots" }), hostTotalBytes: host }).source).toBe("host")
    expect(MemoryBudget.resolve({ cgroupRoot: cgroup({ "memory.max": String(32 * GB) }), hostTotalBytes: host }).source).toBe("host")
    expect(MemoryBudget.resolve({ cgroupRoot: path.join(os.tmpdir(), "no-such-cgroup-root"), hostTotalBytes: host }).source).toBe("host")
  })

  vit("an explicit BARK_MEMORY_LIMIT_MB wins over the container's limit", () => {
    const root = cgroup({ "memory.max": "2147483648" })
    expect(MemoryBudget.resolve({ configuredMb: 512, cgroupRoot: root, hostTotalBytes: host })).toMatchObject({ limitMb: 512, source: "config" })
  })
})

describe("growth watch", () => {
  const window = { windowMs: 300_000, warmupMs: 60_000 }
  /** Feeds one sample per second from `from` to `to` (seconds), RSS given by `rss(t)`; returns the last growth. */
  const feed = (watch: HealthFlags.GrowthWatch, from: number, to: number, rss: (t: number) => number, ready = true) => {
    let last: number | undefined
    for (let t = from; t <= to; t++) last = watch.sample(t * 1000, rss(t), ready)
    return last
  }

  vit("+150 MB within the window after warm-up is growth; +50 MB is not flagged", () => {
    const watch = HealthFlags.growthWatch(window)
    expect(feed(watch, 0, 59, () => 500)).toBeUndefined() // warming up
    expect(feed(watch, 60, 100, () => 500)).toBe(0)
    expect(feed(watch, 101, 200, (t) => 500 + (t - 100) * 0.5)).toBe(50)
    expect(feed(watch, 201, 300, (t) => 550 + (t - 200))).toBe(150)
    const flags = (growthMb: number | undefined) =>
      HealthFlags.evaluate({ rssMb: 650, limitMb: 10_000, growthMb, loadMs: 1000, startingForMs: 0, queued: 0 }, thresholds)
    expect(flags(150).memoryGrowth).toContain("grew 150 MB")
    expect(flags(50).memoryGrowth).toBeUndefined()
  })

  vit("the window slides: growth spread over more than the window is not counted, and a plateau clears it", () => {
    const watch = HealthFlags.growthWatch(window)
    feed(watch, 0, 60, () => 500)
    // 150 MB over 15 minutes: at most 50 MB within any 5 minutes.
    expect(feed(watch, 61, 960, (t) => 500 + (t - 60) / 6)).toBeCloseTo(50, 0)
    // A jump of 150 MB, then a plateau longer than the window.
    const jump = HealthFlags.growthWatch(window)
    feed(jump, 0, 60, () => 500)
    expect(feed(jump, 61, 100, () => 650)).toBe(150)
    expect(feed(jump, 101, 401, () => 650)).toBe(0)
  })

  vit("nothing counts before the service is ready plus the warm-up", () => {
    const watch = HealthFlags.growthWatch(window)
    expect(feed(watch, 0, 600, (t) => 500 + t, false)).toBeUndefined() // still starting: loading models grows RSS
    expect(feed(watch, 601, 660, (t) => 1100 + t)).toBeUndefined() // ready at 601, warm at 661
    expect(feed(watch, 661, 661, () => 2000)).toBe(0) // the first warm sample is the baseline
  })
})

const thresholds: HealthFlags.Thresholds = { warnShare: 0.8, growthMb: 100, growthWindowS: 300, slowLoadS: 60, queueLength: 10 }
const calm: HealthFlags.Observation = { rssMb: 100, limitMb: 1000, growthMb: 0, loadMs: 5000, startingForMs: 5000, queued: 0 }

describe("health flags", () => {
  vit("slow model load: from the startup report's duration, or while a startup runs past the threshold", () => {
    expect(HealthFlags.evaluate({ ...calm, loadMs: 61_000 }, thresholds).slowModelLoad).toContain("took 61.0 s")
    expect(HealthFlags.evaluate({ ...calm, loadMs: 59_000 }, thresholds).slowModelLoad).toBeUndefined()
    expect(HealthFlags.evaluate({ ...calm, loadMs: undefined, startingForMs: 30_000 }, thresholds).slowModelLoad).toBeUndefined()
    expect(HealthFlags.evaluate({ ...calm, loadMs: undefined, startingForMs: 90_000 }, thresholds).slowModelLoad).toContain("has been running for 90 s")
  })

  vit("queue: more than BARK_QUEUE_WARN_LENGTH waiting", () => {
    expect(HealthFlags.evaluate({ ...calm, queued: 10 }, thresholds).queueLong).toBeUndefined()
    expect(HealthFlags.evaluate({ ...calm, queued: 11 }, thresholds).queueLong).toContain("11 requests are waiting")
  })

  vit("memory high: above the warn share of the budget", () => {
    expect(HealthFlags.evaluate({ ...calm, rssMb: 800 }, thresholds).memoryHigh).toBeUndefined()
    expect(HealthFlags.evaluate({ ...calm, rssMb: 801 }, thresholds).memoryHigh).toContain("above 80% of the 1000 MB budget")
    expect(HealthFlags.evaluate(calm, thresholds)).toEqual({ memoryHigh: undefined, memoryGrowth: undefined, slowModelLoad: undefined, queueLong: undefined })
  })
})

describe("memory monitor (test clock, injected samples)", () => {
  it.effect("raises memory_growth on +150 MB once warm, logs it once, exports it, and clears it when the window slides", () =>
    Effect.gen(function*() {
      const logs: Array<{ level: string; message: string }> = []
      let rssMb = 500
      let queued = 0
      const flagValue = (flag: string) =>
        Metrics.render.pipe(Effect.map((text) => parseMetrics(text).get(`bark_health_flag{flag="${flag}"}`)))
      const run = Effect.gen(function*() {
        const monitor = yield* MemoryMonitor.start({
          limitMb: 4096,
          budgetSource: "cgroup-v2",
          warnShare: 0.8,
          shedShare: undefined,
          sampleMs: 1000,
          startup: () => ({ ready: true, loadMs: 12_000 }),
          queued: () => queued,
          sampleRss: Effect.sync(() => rssMb * MB)
        })
        const seconds = (n: number) => TestClock.adjust(`${n} seconds`)
        // During the 60 s warm-up a jump does not count.
        yield* seconds(30)
        rssMb = 700
        yield* seconds(40)
        assert.strictEqual(monitor.growthMb(), 0)
        // +50 MB: under the threshold.
        yield* seconds(30)
        rssMb = 750
        yield* seconds(30)
        assert.strictEqual(monitor.growthMb(), 50)
        assert.isUndefined(monitor.flags().memoryGrowth)
        assert.strictEqual(yield* flagValue("memory_growth"), 0)
        // +150 MB over the lowest sample of the window.
        rssMb = 850
        yield* seconds(5)
        assert.strictEqual(monitor.growthMb(), 150)
        assert.include(monitor.flags().memoryGrowth ?? "", "grew 150 MB")
        assert.strictEqual(yield* flagValue("memory_growth"), 1)
        yield* seconds(60)
        // A long queue is flagged at the next sample.
        queued = 11
        yield* seconds(1)
        assert.isDefined(monitor.flags().queueLong)
        assert.strictEqual(yield* flagValue("queue_long"), 1)
        queued = 0
        // The plateau outlasts the window: no growth any more.
        yield* seconds(301)
        assert.strictEqual(monitor.growthMb(), 0)
        assert.isUndefined(monitor.flags().memoryGrowth)
        assert.isUndefined(monitor.flags().queueLong)
        assert.strictEqual(yield* flagValue("memory_growth"), 0)
        assert.isUndefined(monitor.flags().slowModelLoad)
        assert.strictEqual(monitor.budgetSource, "cgroup-v2")
        const text = yield* Metrics.render
        assert.strictEqual(parseMetrics(text).get(`bark_memory_budget_bytes{source="cgroup-v2"}`), 4096 * MB)
      })
      yield* run.pipe(
        Effect.provideService(Metric.MetricRegistry, new Map()),
        Effect.provide(Logger.layer([Logger.make((o) => {
          logs.push({ level: o.logLevel, message: String(Array.isArray(o.message) ? o.message.join(" ") : o.message) })
        })]))
      )
      const growthLogs = logs.filter((l) => l.message.includes("memory_growth"))
      assert.deepStrictEqual(growthLogs.map((l) => l.level), ["Warn", "Info"], JSON.stringify(logs))
      assert.include(growthLogs[0]!.message, "grew 150 MB")
      assert.deepStrictEqual(logs.filter((l) => l.message.includes("queue_long")).map((l) => l.level), ["Warn", "Info"])
    }))

  it.effect("a startup still running past BARK_SLOW_LOAD_S raises slow_model_load; a fast finished one does not", () =>
    Effect.gen(function*() {
      let status: MemoryMonitor.StartupStatus = { ready: false, loadMs: undefined }
      const monitor = yield* MemoryMonitor.start({
        limitMb: 4096,
        budgetSource: "host",
        warnShare: 0.8,
        shedShare: undefined,
        sampleMs: 1000,
        slowLoadS: 60,
        startup: () => status,
        sampleRss: Effect.succeed(100 * MB)
      }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()), Effect.provide(Logger.layer([])))
      yield* TestClock.adjust("59 seconds")
      assert.isUndefined(monitor.flags().slowModelLoad)
      yield* TestClock.adjust("2 seconds")
      assert.include(monitor.flags().slowModelLoad ?? "", "has been running for 61 s")
      status = { ready: true, loadMs: 75_000 }
      yield* TestClock.adjust("1 second")
      assert.include(monitor.flags().slowModelLoad ?? "", "took 75.0 s")
      status = { ready: true, loadMs: 20_000 }
      yield* TestClock.adjust("1 second")
      assert.isUndefined(monitor.flags().slowModelLoad)
    }))
})

describe("GET /health on a real server", () => {
  vit("reports the budget's source (a fake cgroup v2 limit), the flags and their metrics", async () => {
    // A limit the test process stays well under, below the host's memory so that it binds.
    const limit = Math.floor(os.totalmem() / 2 / MB) * MB
    const root = cgroup({ "memory.max": `${limit}\n` })
    const server = await startServer({ BARK_CGROUP_ROOT: root, BARK_QUEUE_WARN_LENGTH: "5", BARK_SLOW_LOAD_S: "0" })
    try {
      await new Promise((resolve) => setTimeout(resolve, 150)) // a few samples (BARK_MEMORY_SAMPLE_MS=50)
      const health = await json(await fetch(`${server.url}/health`))
      expect(health.memory).toMatchObject({ limitMb: limit / MB, budgetSource: "cgroup-v2", growthMb: null })
      expect(health.flags).toEqual({ memoryHigh: false, memoryGrowth: false, slowModelLoad: true, queueLong: false })
      expect(health.alerts).toHaveLength(1)
      expect(health.alerts[0]).toContain("BARK_SLOW_LOAD_S=0")
      const m = await metrics(server.url)
      expect(m.get(`bark_memory_budget_bytes{source="cgroup-v2"}`)).toBe(limit)
      expect(m.get(`bark_health_flag{flag="slow_model_load"}`)).toBe(1)
      expect(m.get(`bark_health_flag{flag="memory_growth"}`)).toBe(0)
      expect(m.get(`bark_health_flag{flag="queue_long"}`)).toBe(0)
      expect(m.get(`bark_health_flag{flag="memory_high"}`)).toBe(0)
    } finally {
      await server.close()
    }
  })
})
