/**
 * A job's trace: the worker records the synthesis trace of each attempt and
 * stores it beside the audio in the results store; any replica answers it
 * at `GET /v1/jobs/{id}/trace` (JSON, or `?format=svg`). Real Redis, `serve`
 * and `worker` as child processes on the mock engine.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { awaitJob, hasRedis, json, LONG, metricSum, postJob, type RedisServer, removeDirs, type Service, startRedis, startService, tempDir } from "./support.ts"


describe.skipIf(!hasRedis)("a job's synthesis trace", () => {
  let redis: RedisServer
  let api: Service
  let worker: Service
  let results: string

  beforeAll(async () => {
    redis = await startRedis()
    results = tempDir("bark-results-")
    const env = { BARK_REDIS_URL: redis.url, BARK_RESULTS_DIR: results, BARK_CACHE_DIR: tempDir("bark-cache-"), BARK_JOBS_QUEUE: "traces" }
    ;[api, worker] = await Promise.all([startService("serve", "mock", env), startService("worker", "mock", { ...env, BARK_MOCK_LATENCY_MS: "450" })])
  }, 60_000)
  afterAll(async () => {
    await Promise.all([api?.stop(), worker?.stop()])
    await redis?.stop()
    removeDirs()
  })

  it("is stored beside the audio and answered as JSON and as an SVG timeline", async () => {
    const job = await json(await postJob(api.url, { text: LONG, seed: 4 }))
    const done = await awaitJob(api.url, job.id, ["completed"])
    expect(done.result.trace).toBe(`/v1/jobs/${job.id}/trace`)
    expect(fs.existsSync(path.join(results, `${job.id}.trace.json`))).toBe(true)

    const response = await fetch(`${api.url}${done.result.trace}`)
    expect(response.status).toBe(200)
    expect(response.headers.get("x-request-id")).toBeTruthy()
    const trace = await json(response)
    expect(trace).toMatchObject({ id: job.id, route: "job", attempt: 1, recipe: "mock", outcome: "completed", status: null })
    expect(trace.stages.map((s: any) => `${s.pipeline}#${s.chunk}:${s.stage}:${s.outcome}`)).toEqual([
      "mock/prepare#null:split:succeeded",
      "mock/prepare#null:voice:succeeded",
      ...[0, 1, 2].flatMap((chunk) => [`mock/chunk#${chunk}:mock-audio:succeeded`, `mock/chunk#${chunk}:post:succeeded`])
    ])
    // The mock sleeps BARK_MOCK_LATENCY_MS per chunk: the trace's durations show it.
    const generated = trace.stages.filter((s: any) => s.stage === "mock-audio")
    expect(generated.every((s: any) => s.durationMs >= 400)).toBe(true)

    const svg = await fetch(`${api.url}/v1/jobs/${job.id}/trace?format=svg`)
    expect(svg.headers.get("content-type")).toBe("image/svg+xml")
    const text = await svg.text()
    expect(text).toContain("mock job — succeeded")
    expect(text).toContain(`data-stage="chunk 3 · mock-audio" data-state="succeeded"`)

    // The worker times the stages as the service does.
    const metrics = await (await fetch(`${worker.url}/metrics`)).text()
    expect(metricSum(metrics, "bark_synthesis_stage_seconds_count", `stage="mock-audio",outcome="succeeded"`)).toBe(3)
  })

  it("a cancelled job's trace ends interrupted; a job without a trace, or no job, is a 404 saying why", async () => {
    const running = await json(await postJob(api.url, { text: LONG }))
    const queued = await json(await postJob(api.url, { text: "Never spoken." }))
    await awaitJob(api.url, running.id, ["running"])

    const notYet = await fetch(`${api.url}/v1/jobs/${queued.id}/trace`)
    expect(notYet.status).toBe(404)
    const notYetError = (await json(notYet)).error
    expect(notYetError).toMatchObject({ tag: "TraceNotFound", code: "trace_not_found" })
    expect(notYetError.remediation).toMatch(/poll GET \/v1\/jobs\/\{id\}/)

    await fetch(`${api.url}/v1/jobs/${queued.id}`, { method: "DELETE" })
    await fetch(`${api.url}/v1/jobs/${running.id}`, { method: "DELETE" })
    await awaitJob(api.url, running.id, ["cancelled"], 15_000)
    const trace = await json(await fetch(`${api.url}/v1/jobs/${running.id}/trace`))
    expect(trace.outcome).toBe("interrupted")
    // It stopped before its three chunks were generated.
    expect(trace.stages.filter((s: any) => s.stage === "mock-audio" && s.outcome === "succeeded").length).toBeLessThan(3)

    await awaitJob(api.url, queued.id, ["cancelled"])
    const never = await fetch(`${api.url}/v1/jobs/${queued.id}/trace`)
    expect(never.status).toBe(404)
    expect((await json(never)).error.remediation).toMatch(/never reached synthesis/)

    const unknown = await fetch(`${api.url}/v1/jobs/00000000-0000-4000-8000-000000000000/trace`)
    expect(unknown.status).toBe(404)
    expect((await json(unknown)).error.tag).toBe("JobNotFound")
  })
})
