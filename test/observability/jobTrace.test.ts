/**
 * One trace from the API replica through Redis to the worker: `serve` and
 * `worker` processes export over OTLP/HTTP to a receiver on 127.0.0.1, which
 * decodes what arrives.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { runCliProcess } from "../support/cli.ts"
import { attributeValues, spansOf } from "../support/otlp.ts"
import { awaitJob, hasRedis, json, postJob, type RedisServer, removeDirs, startRedis, startService, tempDir } from "../jobs/support.ts"

describe.skipIf(!hasRedis)("OpenTelemetry across the job queue", () => {
  const bodies: Array<{ readonly path: string; readonly body: any }> = []
  let receiver: http.Server
  let endpoint = ""
  let redis: RedisServer

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        bodies.push({ path: req.url ?? "", body: JSON.parse(Buffer.concat(chunks).toString("utf8")) })
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
    endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis.stop()
    await new Promise<void>((resolve) => receiver.close(() => resolve()))
    removeDirs()
  })

  it("the API request, the job on the worker and its generation steps share one trace; metrics arrive too", async () => {
    const env = {
      BARK_REDIS_URL: redis.url,
      BARK_RESULTS_DIR: tempDir("bark-results-"),
      BARK_CACHE_DIR: tempDir("bark-cache-"),
      BARK_JOBS_QUEUE: "traced",
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test"
    }
    const api = await startService("serve", "mock", { ...env, OTEL_SERVICE_NAME: "bark-api" })
    const worker = await startService("worker", "mock", { ...env, OTEL_SERVICE_NAME: "bark-worker", BARK_MOCK_LATENCY_MS: "90" })
    const job = await json(await postJob(api.url, { text: "Trace me. All the way through.", seed: 3 }))
    await awaitJob(api.url, job.id, ["completed"])
    // SIGTERM: each process flushes what it has not exported yet as it stops.
    await Promise.all([api.stop(), worker.stop()])

    const spans = bodies.filter((b) => b.path === "/v1/traces").flatMap(({ body }) => spansOf(body))
    const jobSpan = spans.find((s) => s.name === "job" && s.service === "bark-worker")
    expect(jobSpan, spans.map((s) => `${s.service}:${s.name}`).join(", ")).toBeDefined()
    expect(jobSpan!.attributes["job.id"]).toBe(job.id)
    // Its parent is a span of the API replica, in the same trace: the request that enqueued it.
    const parent = spans.find((s) => s.spanId === jobSpan!.parentSpanId)
    expect(parent).toBeDefined()
    expect(parent!.service).toBe("bark-api")
    expect(parent!.traceId).toBe(jobSpan!.traceId)
    expect(parent!.name).toMatch(/POST/)
    // The generation steps, the encoding and the store are the job's children.
    const children = spans.filter((s) => s.parentSpanId === jobSpan!.spanId).map((s) => s.name)
    expect(children).toEqual(expect.arrayContaining(["generate semantic", "generate coarse", "generate fine", "encode", "store"]))
    // So are the synthesis stages, made from the job's trace events.
    expect(children).toEqual(expect.arrayContaining(["synthesis.split", "synthesis.voice", "synthesis.mock-audio", "synthesis.post"]))
    // Startup is traced too: the worker's pipeline and its stages.
    expect(spans.filter((s) => s.service === "bark-worker").map((s) => s.name)).toEqual(
      expect.arrayContaining(["pipeline worker-mock", "stage worker", "stage mock-engine"])
    )
    const resources = bodies.filter((b) => b.path === "/v1/traces").map(({ body }) => attributeValues(body.resourceSpans[0].resource.attributes))
    expect(resources.every((r) => r["deployment.environment"] === "test")).toBe(true)

    const metricNames = bodies.filter((b) => b.path === "/v1/metrics").flatMap(({ body }) =>
      (body.resourceMetrics as Array<any>).flatMap((rm) => (rm.scopeMetrics as Array<any>).flatMap((sm) => (sm.metrics as Array<any>).map((m) => m.name)))
    )
    expect(metricNames).toEqual(expect.arrayContaining(["jobs_processed_total", "job_duration_seconds", "requests_total"]))
  })

  it("bark-pipeline run exports its pipeline and stage spans before it exits", async () => {
    bodies.length = 0
    const result = await runCliProcess(["run", "mock"], {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: "bark-run", BARK_CACHE_DIR: tempDir("bark-cache-") }
    })
    expect(result.code).toBe(0)
    const names = bodies.filter((b) => b.path === "/v1/traces").flatMap(({ body }) =>
      (body.resourceSpans as Array<any>).flatMap((rs) => (rs.scopeSpans as Array<any>).flatMap((ss) => (ss.spans as Array<any>).map((x) => x.name)))
    )
    expect(names).toEqual(expect.arrayContaining(["pipeline mock", "stage environment", "stage cache-dirs", "stage mock-engine"]))
  })
})
