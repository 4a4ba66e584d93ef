import { afterEach, describe, expect, it } from "vitest"
import { Context, Deferred, Effect } from "effect"
import * as MockEngine from "../../src/bark/engine/mock.ts"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Stage from "../../src/pipeline/Stage.ts"
import * as StageReporter from "../../src/pipeline/StageReporter.ts"
import { json, metrics, postJson, startListening, startServer } from "./support.ts"

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

class Gate extends Context.Service<Gate, { readonly opened: true }>()("test/Gate") {}

/** A profile whose startup waits for the test to open a gate. */
const gatedProfile = (gate: Deferred.Deferred<void>, options: { readonly warn?: boolean } = {}) =>
  Pipeline.make("gated", "waits for the test").pipe(
    Pipeline.add(Stage.make({
      name: "gate",
      purpose: "wait for the test",
      provides: Gate,
      build: Effect.gen(function*() {
        yield* Deferred.await(gate)
        if (options.warn === true) yield* StageReporter.warn("something is off", "ignore it")
        return Gate.of({ opened: true })
      })
    })),
    Pipeline.add(MockEngine.stage)
  )

describe("readiness", () => {
  it("listens first: 503 until the profile has started, then 200 with the report", async () => {
    const gate = Effect.runSync(Deferred.make<void>())
    const server = await startListening(gatedProfile(gate))
    closers.push(server.close)

    expect((await fetch(`${server.url}/health/live`)).status).toBe(200)
    const starting = await fetch(`${server.url}/health/ready`)
    expect(starting.status).toBe(503)
    const body = await json(starting)
    expect(body.status).toBe("starting")
    expect(body.report.results.map((r: { stage: string }) => r.stage)).toEqual(["listen", "jobs"])
    const early = await postJson(`${server.url}/synthesize`, { text: "too early" })
    expect(early.status).toBe(503)
    expect(early.headers.get("retry-after")).not.toBeNull()
    expect((await json(early)).error.tag).toBe("NotReady")

    Effect.runSync(Deferred.succeed(gate, undefined))
    await server.started
    const ready = await fetch(`${server.url}/health/ready`)
    expect(ready.status).toBe(200)
    expect((await json(ready)).report.outcome).toBe("succeeded")
    expect((await postJson(`${server.url}/synthesize`, { text: "now" })).status).toBe(200)
  })

  it("strict readiness refuses a profile with warned stages; lenient accepts it", async () => {
    for (const [policy, status] of [["strict", 503], ["lenient", 200]] as const) {
      const gate = Effect.runSync(Deferred.make<void>())
      Effect.runSync(Deferred.succeed(gate, undefined))
      const server = await startListening(gatedProfile(gate, { warn: true }), { BARK_READINESS: policy })
      closers.push(server.close)
      await server.started
      const ready = await fetch(`${server.url}/health/ready`)
      const body = await json(ready)
      expect({ policy, status: ready.status }).toEqual({ policy, status })
      expect(body.policy).toBe(policy)
      if (policy === "strict") expect(body.reason).toContain("gate warned")
    }
  })
})

describe("admission control", () => {
  it("answers 429 with Retry-After beyond the queue depth and serves the rest", async () => {
    const server = await startServer({ BARK_MOCK_LATENCY_MS: "300", BARK_MAX_CONCURRENCY: "1", BARK_MAX_QUEUE: "2" })
    closers.push(server.close)
    const responses = await Promise.all(Array.from({ length: 6 }, (_, i) => postJson(`${server.url}/synthesize`, { text: `request ${i}` })))
    const statuses = responses.map((r) => r.status).sort()
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429])
    const rejected = responses.find((r) => r.status === 429)!
    expect(Number(rejected.headers.get("retry-after"))).toBeGreaterThan(0)
    expect((await json(rejected)).error.tag).toBe("QueueFull")
    const m = await metrics(server.url)
    expect(m.get("bark_rejected_total")).toBe(3)
    expect(m.get(`bark_requests_total{route="/synthesize",status="429"}`)).toBe(3)
  })

  it("answers 503 when a request waits in the queue past BARK_REQUEST_TIMEOUT_S", async () => {
    const server = await startServer({ BARK_MOCK_LATENCY_MS: "900", BARK_REQUEST_TIMEOUT_S: "0.2" })
    closers.push(server.close)
    const [first, second] = await Promise.all([
      postJson(`${server.url}/synthesize`, { text: "first" }),
      sleep(50).then(() => postJson(`${server.url}/synthesize`, { text: "second" }))
    ])
    expect(first.status).toBe(200)
    expect(second.status).toBe(503)
    expect((await json(second)).error.tag).toBe("QueueTimeout")
  })

  it("cancels the generation when the client disconnects, and frees its slot", async () => {
    const server = await startServer({ BARK_MOCK_LATENCY_MS: "600" })
    closers.push(server.close)
    const abort = new AbortController()
    const gone = postJson(`${server.url}/synthesize`, { text: "never mind" }, { signal: abort.signal }).catch((e: Error) => e)
    await sleep(150)
    const health = await json(await fetch(`${server.url}/health`))
    expect(health.queue.inFlight).toBe(1) // /health answers while the generation runs
    abort.abort()
    expect(await gone).toBeInstanceOf(Error)
    await sleep(900) // longer than the generation would have taken
    const m = await metrics(server.url)
    expect(m.get(`bark_generations_total{outcome="interrupted"}`)).toBe(1)
    expect(m.get(`bark_generations_total{outcome="completed"}`)).toBe(0)
    expect(m.get("bark_requests_in_flight")).toBe(0)
    expect((await postJson(`${server.url}/synthesize`, { text: "next" })).status).toBe(200)
  })

  it("sheds synthesis with 503 above BARK_MEMORY_SHED_SHARE and reports degraded health", async () => {
    const server = await startServer({ BARK_MEMORY_LIMIT_MB: "1", BARK_MEMORY_WARN_SHARE: "0.5", BARK_MEMORY_SHED_SHARE: "0.9" })
    closers.push(server.close)
    const health = await json(await fetch(`${server.url}/health`))
    expect(health.status).toBe("degraded")
    expect(health.memory.level).toBe("shedding")
    const shed = await postJson(`${server.url}/synthesize`, { text: "no room" })
    expect(shed.status).toBe(503)
    expect((await json(shed)).error.tag).toBe("MemoryPressure")
    expect((await metrics(server.url)).get("bark_memory_pressure")).toBe(2)
  })

  it("drains: in-flight requests finish, new connections are refused, readiness reports draining", async () => {
    const server = await startServer({ BARK_MOCK_LATENCY_MS: "400" })
    closers.push(server.close)
    const inFlight = postJson(`${server.url}/synthesize`, { text: "finish me" })
    await sleep(100)
    const drained = Effect.runPromise(server.running.drain)
    await sleep(20)
    expect(server.running.state.readiness().status).toBe("draining")
    const response = await inFlight
    expect(response.status).toBe(200)
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(44)
    await drained
    await expect(fetch(`${server.url}/health/live`)).rejects.toThrow()
  })
})
