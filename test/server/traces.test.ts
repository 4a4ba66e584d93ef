/**
 * Request ids and per-request traces, from the outside: every response
 * carries `x-request-id` (the client's when it is a valid one), every
 * synthesis — each route, format and streaming mode — keeps its trace
 * under that id for `GET /v1/traces/{id}` (JSON, or an SVG timeline),
 * failed requests included, bounded by BARK_TRACE_KEEP; and the stages are
 * timed in the metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { json, metrics, postJson, startServer, type TestServer } from "./support.ts"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** Two long-form chunks on the mock. */
const TWO_CHUNKS = "The first sentence of a long script opens the scene with a view over the harbour at dawn. " +
  "Then a second one follows it, describing the boats that leave one after another. " +
  "A third sentence comes after that and names the fisherman who waits on the pier."

const withId = (id: string, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { "content-type": "application/json", "x-request-id": id, ...(init.headers as Record<string, string> | undefined) }
})

/** The trace of `id`, once its synthesis has finished (a streamed one ends after its last byte). */
const finishedTrace = async (url: string, id: string): Promise<any> => {
  for (let i = 0; i < 100; i++) {
    const response = await fetch(`${url}/v1/traces/${id}`)
    expect(response.status).toBe(200)
    const trace = await json(response)
    if (trace.outcome !== "running") return trace
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`the trace of ${id} is still running`)
}

describe("x-request-id and request traces (mock profile)", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ BARK_JOBS: "off" })
  })
  afterAll(() => server.close())

  it("every response carries x-request-id: the client's when valid, else a fresh UUID", async () => {
    const requests: ReadonlyArray<readonly [string, RequestInit, number]> = [
      ["/health/live", {}, 200],
      ["/health/ready", {}, 200],
      ["/metrics", {}, 200],
      ["/v1/models", {}, 200],
      ["/v1/models/whisper-1", {}, 404],
      ["/no/such/route", {}, 404],
      ["/v1/traces/never-seen", {}, 404],
      ["/v1/jobs", { method: "POST", body: "{}" }, 503],
      ["/synthesize", { method: "POST", body: "{not json" }, 400],
      ["/synthesize", { method: "POST", body: JSON.stringify({ text: "Hello." }) }, 200],
      ["/v1/audio/speech", { method: "POST", body: JSON.stringify({ input: "Hello.", response_format: "wav", stream_format: "audio" }) }, 200]
    ]
    for (const [route, init, status] of requests) {
      const echoed = await fetch(`${server.url}${route}`, withId("client-id_1.2:3", init))
      expect({ route, status: echoed.status, id: echoed.headers.get("x-request-id") }).toEqual({ route, status, id: "client-id_1.2:3" })
      await echoed.arrayBuffer()
      const fresh = await fetch(`${server.url}${route}`, init)
      expect(fresh.status).toBe(status)
      expect(fresh.headers.get("x-request-id")).toMatch(UUID)
      await fresh.arrayBuffer()
    }
    // Not valid ids (too long, a space, a slash, percent-encoding, a comma from two headers joined): each gets a fresh one.
    for (const bad of ["x".repeat(129), "has space", "a/b", "%C3%BCmlaut", "one, two"]) {
      const response = await fetch(`${server.url}/health/live`, { headers: { "x-request-id": bad } })
      expect(response.headers.get("x-request-id"), bad).toMatch(UUID)
    }
    expect((await fetch(`${server.url}/health/live`, { headers: { "x-request-id": "x".repeat(128) } })).headers.get("x-request-id")).toBe("x".repeat(128))
    const a = (await fetch(`${server.url}/health/live`)).headers.get("x-request-id")
    const b = (await fetch(`${server.url}/health/live`)).headers.get("x-request-id")
    expect(a).not.toBe(b)
  })

  it("GET /v1/traces/{id}: the request's trace, prepare once then each chunk, every stage with its run", async () => {
    const response = await postJson(`${server.url}/v1/audio/speech`, { input: TWO_CHUNKS, response_format: "wav" }, withId("speech-wav-1"))
    expect(response.status).toBe(200)
    await response.arrayBuffer()
    const trace = await finishedTrace(server.url, "speech-wav-1")
    expect(trace).toMatchObject({ id: "speech-wav-1", route: "/v1/audio/speech", recipe: "mock", outcome: "completed", status: 200 })
    expect(Date.parse(trace.finishedAt)).toBeGreaterThanOrEqual(Date.parse(trace.startedAt))
    const runs = trace.events.filter((e: any) => e.type === "pipeline-started").map((e: any) => e.pipeline)
    expect(runs).toEqual(["mock/prepare", "mock/chunk", "mock/chunk"])
    expect(trace.events.at(-1)).toMatchObject({ type: "pipeline-finished", report: { pipeline: "mock/chunk", outcome: "succeeded" } })
    expect(trace.stages.map((s: any) => `${s.pipeline}#${s.chunk}:${s.stage}:${s.outcome}`)).toEqual([
      "mock/prepare#null:split:succeeded",
      "mock/prepare#null:voice:succeeded",
      "mock/chunk#0:mock-audio:succeeded",
      "mock/chunk#0:post:succeeded",
      "mock/chunk#1:mock-audio:succeeded",
      "mock/chunk#1:post:succeeded"
    ])
    expect(trace.stages[0].metadata).toEqual({ chunks: 2 })
    expect(trace.stages[2].metadata.samples).toBeGreaterThan(0)
    expect(trace.stages.every((s: any) => typeof s.durationMs === "number" && typeof s.startedAt === "string")).toBe(true)
  })

  it("traces every synthesis route, format and streaming mode", async () => {
    const cases: ReadonlyArray<readonly [string, string, unknown]> = [
      ["speech-mp3", "/v1/audio/speech", { input: TWO_CHUNKS }],
      ["speech-pcm", "/v1/audio/speech", { input: TWO_CHUNKS, response_format: "pcm", speed: 1.5 }],
      ["speech-stream", "/v1/audio/speech", { input: TWO_CHUNKS, response_format: "opus", stream_format: "audio" }],
      ["speech-sse", "/v1/audio/speech", { input: TWO_CHUNKS, response_format: "flac", stream_format: "sse" }],
      ["native", "/synthesize", { text: TWO_CHUNKS, seed: 3 }],
      ["native-stream", "/synthesize", { text: TWO_CHUNKS, stream: true }]
    ]
    for (const [id, route, body] of cases) {
      const response = await postJson(`${server.url}${route}`, body, withId(id))
      expect(response.status, id).toBe(200)
      await response.arrayBuffer()
      const trace = await finishedTrace(server.url, id)
      expect({ id: trace.id, route: trace.route, outcome: trace.outcome, status: trace.status }).toEqual({ id, route, outcome: "completed", status: 200 })
      expect(trace.stages.filter((s: any) => s.stage === "mock-audio").map((s: any) => s.chunk), id).toEqual([0, 1])
    }
  })

  it("?format=svg draws the trace as one timeline: a row per stage of every run", async () => {
    await (await postJson(`${server.url}/synthesize`, { text: TWO_CHUNKS }, withId("svg-1"))).arrayBuffer()
    await finishedTrace(server.url, "svg-1")
    const response = await fetch(`${server.url}/v1/traces/svg-1?format=svg`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("image/svg+xml")
    expect(response.headers.get("x-request-id")).toMatch(UUID)
    const svg = await response.text()
    expect(svg).toMatch(/^<\?xml[^>]*>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    const rows = [...svg.matchAll(/data-stage="([^"]*)" data-state="([^"]*)"/g)].map((m) => `${m[1]}=${m[2]}`)
    expect(rows).toEqual([
      "prepare · split=succeeded",
      "prepare · voice=succeeded",
      "chunk 1 · mock-audio=succeeded",
      "chunk 1 · post=succeeded",
      "chunk 2 · mock-audio=succeeded",
      "chunk 2 · post=succeeded"
    ])
    expect(svg).toContain("mock /synthesize — succeeded")
    expect((await fetch(`${server.url}/v1/traces/svg-1?format=png`)).status).toBe(400)
    expect((await fetch(`${server.url}/v1/traces/svg-1?format=json`)).headers.get("content-type")).toMatch(/^application\/json/)
  })

  it("a failed request keeps its trace, showing the failed stage, whose remediation is the error body's", async () => {
    for (const [id, route, body] of [
      ["bad-voice", "/synthesize", { text: "Hello there.", voice: "v2/xx_speaker_1" }],
      ["bad-voice-stream", "/v1/audio/speech", { input: "Hello there.", voice: "bob", stream_format: "audio" }]
    ] as const) {
      const response = await postJson(`${server.url}${route}`, body, withId(id))
      expect(response.status).toBe(400)
      expect(response.headers.get("x-request-id")).toBe(id)
      const error = (await json(response)).error
      expect(error.tag).toBe("UnknownVoice")
      const trace = await finishedTrace(server.url, id)
      expect({ outcome: trace.outcome, status: trace.status }).toEqual({ outcome: "failed", status: 400 })
      const failed = trace.stages.find((s: any) => s.outcome === "failed")
      expect(failed).toMatchObject({ pipeline: "mock/prepare", stage: "voice", error: { tag: "SynthesisError" } })
      // What the stage said to do is what the client is told.
      expect(failed.error.remediation).toBe(error.remediation)
      expect(error.remediation).toContain("v2/{lang}_speaker_{0..9}")
      expect(trace.events.at(-1)).toMatchObject({ type: "pipeline-finished", report: { outcome: "failed" } })
      const svg = await (await fetch(`${server.url}/v1/traces/${id}?format=svg`)).text()
      expect(svg).toContain(`data-stage="prepare · voice" data-state="failed"`)
      expect(svg).toContain("fix: use")
    }
  })

  it("an unknown id is a 404 in OpenAI's error shape with what to do", async () => {
    const response = await fetch(`${server.url}/v1/traces/not-a-request`)
    expect(response.status).toBe(404)
    const error = (await json(response)).error
    expect(error).toMatchObject({ type: "invalid_request_error", code: "trace_not_found", tag: "TraceNotFound", param: null })
    expect(error.message).toContain("not-a-request")
    expect(error.remediation).toMatch(/x-request-id.*BARK_TRACE_KEEP/)
    // Requests that never reached synthesis have no trace.
    const refused = await postJson(`${server.url}/synthesize`, { text: "  " }, withId("never-synthesized"))
    expect(refused.status).toBe(400)
    expect((await fetch(`${server.url}/v1/traces/never-synthesized`)).status).toBe(404)
  })

  it("times every stage in bark_synthesis_stage_seconds and has both audio-cache series from the start", async () => {
    const before = await metrics(server.url)
    const count = (m: Map<string, number>, stage: string, outcome: string) =>
      m.get(`bark_synthesis_stage_seconds_count{stage="${stage}",outcome="${outcome}"}`) ?? 0
    await (await postJson(`${server.url}/synthesize`, { text: TWO_CHUNKS })).arrayBuffer()
    await (await postJson(`${server.url}/synthesize`, { text: "Hi.", voice: "nobody" })).arrayBuffer()
    const after = await metrics(server.url)
    expect(count(after, "split", "succeeded")).toBe(count(before, "split", "succeeded") + 2)
    expect(count(after, "mock-audio", "succeeded")).toBe(count(before, "mock-audio", "succeeded") + 2)
    expect(count(after, "post", "succeeded")).toBe(count(before, "post", "succeeded") + 2)
    expect(count(after, "voice", "failed")).toBe(count(before, "voice", "failed") + 1)
    expect(after.get(`bark_synthesis_stage_seconds_sum{stage="mock-audio",outcome="succeeded"}`)!).toBeGreaterThan(0)
    expect(after.has(`bark_synthesis_stage_seconds_bucket{stage="mock-audio",outcome="succeeded",le="+Inf"}`)).toBe(true)
    // The mock recipe has no audio-cache stage: the series are there, at 0.
    expect(after.get(`bark_audio_cache_total{result="hit"}`)).toBe(0)
    expect(after.get(`bark_audio_cache_total{result="miss"}`)).toBe(0)
  })
})

describe("BARK_TRACE_KEEP", () => {
  it("keeps the most recent N traces; the oldest is pushed out", async () => {
    const server = await startServer({ BARK_JOBS: "off", BARK_TRACE_KEEP: "2" })
    try {
      for (const id of ["keep-1", "keep-2", "keep-3"]) await (await postJson(`${server.url}/synthesize`, { text: "Hi." }, withId(id))).arrayBuffer()
      expect((await fetch(`${server.url}/v1/traces/keep-1`)).status).toBe(404)
      expect((await fetch(`${server.url}/v1/traces/keep-2`)).status).toBe(200)
      expect((await fetch(`${server.url}/v1/traces/keep-3`)).status).toBe(200)
      // A reused id replaces its trace and counts as the newest.
      await (await postJson(`${server.url}/synthesize`, { text: "Hi.", voice: "nobody" }, withId("keep-2"))).arrayBuffer()
      await (await postJson(`${server.url}/synthesize`, { text: "Hi." }, withId("keep-4"))).arrayBuffer()
      expect((await fetch(`${server.url}/v1/traces/keep-3`)).status).toBe(404)
      expect((await json(await fetch(`${server.url}/v1/traces/keep-2`))).status).toBe(400)
      expect((await fetch(`${server.url}/v1/traces/keep-4`)).status).toBe(200)
    } finally {
      await server.close()
    }
  })

  it("0 keeps none: every id is a 404 that says how to keep them; requests still get ids", async () => {
    const server = await startServer({ BARK_JOBS: "off", BARK_TRACE_KEEP: "0" })
    try {
      const response = await postJson(`${server.url}/synthesize`, { text: "Hi." }, withId("kept-nowhere"))
      expect(response.status).toBe(200)
      expect(response.headers.get("x-request-id")).toBe("kept-nowhere")
      const missing = await fetch(`${server.url}/v1/traces/kept-nowhere`)
      expect(missing.status).toBe(404)
      expect((await json(missing)).error.remediation).toContain("BARK_TRACE_KEEP")
    } finally {
      await server.close()
    }
  })

  it("must be a count: a negative one fails startup naming it", async () => {
    await expect(startServer({ BARK_JOBS: "off", BARK_TRACE_KEEP: "-1" })).rejects.toThrow(/BARK_TRACE_KEEP=-1 must be at least 0/)
  })
})
