/**
 * The job queue end to end: real Redis, `serve` and `worker` as child
 * processes on the mock engine, audio fetched back and compared with what
 * the engine gives for the same request and seed.
 */
import { Effect } from "effect"
import { Queue } from "bullmq"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { makeMockEngine } from "../../src/bark/engine/mock.ts"
import { ExitCode } from "../../src/cli/CliExit.ts"
import { connectJobs } from "../../src/index.ts"
import * as Encoders from "../../src/audio/encoders.ts"
import {
  awaitJob,
  hasRedis,
  json,
  LONG,
  metricSum,
  postJob,
  type RedisServer,
  removeDirs,
  type Service,
  sleep,
  startRedis,
  startService,
  tempDir,
  waitFor
} from "./support.ts"

/** What the mock engine gives for a request, as the WAV a job stores. */
const expectedWav = (text: string, voice: string, seed: number) =>
  Effect.runPromise(
    makeMockEngine().synthesize(text, { voice, seed }).pipe(
      Effect.flatMap((s) => Encoders.encodeWhole("wav", s.audio, s.sampleRate))
    )
  )

const audioOf = async (url: string, id: string) => {
  const response = await fetch(`${url}/v1/jobs/${id}/audio`)
  expect(response.status).toBe(200)
  return new Uint8Array(await response.arrayBuffer())
}


describe.skipIf(!hasRedis)("synthesis jobs on BullMQ + Redis", () => {
  let redis: RedisServer
  const services: Array<Service> = []
  let base: Record<string, string>

  const start = async (command: "serve" | "worker", env: Record<string, string> = {}, profile = "mock") => {
    const service = await startService(command, profile, { ...base, ...env })
    services.push(service)
    return service
  }

  /** The API replica, shared by the tests: it holds no state of its own. */
  let api: Service
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()))
    // Each test starts from an empty queue.
    const queue = new Queue("bark-synthesis", { connection: { url: redis.url } })
    await queue.obliterate({ force: true })
    await queue.close()
  })
  afterAll(async () => {
    await api.stop()
    await redis.stop()
    removeDirs()
  })
  beforeAll(async () => {
    base = {
      BARK_REDIS_URL: redis.url,
      BARK_RESULTS_DIR: tempDir("bark-results-"),
      BARK_CACHE_DIR: tempDir("bark-cache-"),
      BARK_JOB_LOCK_MS: "2000",
      BARK_JOB_STALLED_CHECK_MS: "1000",
      BARK_JOB_BACKOFF_MS: "100"
    }
    api = await startService("serve", "mock", base)
  })

  it("enqueues on a serve replica, a worker completes it, the audio is the engine's for that seed", async () => {
    const worker = await start("worker", { BARK_MOCK_LATENCY_MS: "150" })
    const created = await postJob(api.url, { text: LONG, voice: "v2/en_speaker_6", seed: 42 })
    expect(created.status).toBe(202)
    const job = await json(created)
    expect(created.headers.get("location")).toBe(`/v1/jobs/${job.id}`)
    expect(job).toMatchObject({ state: "queued", request: { seed: 42, format: "wav", voice: "v2/en_speaker_6" } })

    // Progress arrives while it runs: sentences and tokens from the engine's events.
    const running = await awaitJob(api.url, job.id, ["running", "completed"])
    const done = await awaitJob(api.url, job.id, ["completed"])
    expect(done.attempts.made).toBe(1)
    expect(done.progress.sentences).toEqual({ done: 3, total: 3 })
    expect(done.result.sentences).toBe(3)
    expect(done.progress.tokens).toBeGreaterThan(0)
    expect(running.state === "completed" || running.startedAt !== null).toBe(true)
    expect(done.result).toMatchObject({ format: "wav", seed: 42, url: `/v1/jobs/${job.id}/audio`, sampleRate: 24_000 })

    const bytes = await audioOf(api.url, job.id)
    expect(bytes).toEqual(await expectedWav(LONG, "v2/en_speaker_6", 42))
    expect(fs.existsSync(path.join(base["BARK_RESULTS_DIR"]!, `${job.id}.wav`))).toBe(true)
    // Nothing but the result in the store: no temporary files left behind.
    expect(fs.readdirSync(base["BARK_RESULTS_DIR"]!).filter((f) => f.startsWith("."))).toEqual([])

    const health = await json(await fetch(`${worker.url}/health`))
    expect(health.jobs).toMatchObject({ available: true, worker: { concurrency: 1 } })
    const metrics = await (await fetch(`${worker.url}/metrics`)).text()
    expect(metricSum(metrics, "bark_jobs_processed_total", `outcome="completed"`)).toBe(1)
    expect(metricSum(metrics, "bark_job_duration_seconds_count", `outcome="completed"`)).toBe(1)
    const apiMetrics = await (await fetch(`${api.url}/metrics`)).text()
    expect(metricSum(apiMetrics, "bark_jobs", `state="completed"`)).toBeGreaterThanOrEqual(1)
    expect(metricSum(apiMetrics, "bark_jobs_available")).toBe(1)
  })

  it("stores other formats: an mp3 job's audio is MPEG", async () => {
    await start("worker")
    const job = await json(await postJob(api.url, { text: "Short and sweet.", format: "mp3" }))
    await awaitJob(api.url, job.id, ["completed"])
    const response = await fetch(`${api.url}/v1/jobs/${job.id}/audio`)
    expect(response.headers.get("content-type")).toBe("audio/mpeg")
    const bytes = new Uint8Array(await response.arrayBuffer())
    // An ID3 tag or an MPEG frame sync.
    expect(bytes[0] === 0x49 || (bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0)).toBe(true)
  })

  it("two workers share 20 jobs and no job is done twice", async () => {
    const workers = [await start("worker", { BARK_MOCK_LATENCY_MS: "60" }), await start("worker", { BARK_MOCK_LATENCY_MS: "60" })]
    const ids: Array<string> = []
    for (let i = 0; i < 20; i++) ids.push((await json(await postJob(api.url, { text: `Job number ${i} of twenty.`, seed: i }))).id)
    const finished = await Promise.all(ids.map((id) => awaitJob(api.url, id, ["completed"])))
    expect(finished.every((job) => job.attempts.made === 1)).toBe(true)
    const perWorker = await Promise.all(workers.map(async (w) =>
      metricSum(await (await fetch(`${w.url}/metrics`)).text(), "bark_jobs_processed_total", `outcome="completed"`)
    ))
    expect(perWorker[0]! + perWorker[1]!).toBe(20)
    expect(Math.min(...perWorker)).toBeGreaterThan(0)
    for (const [i, id] of ids.entries()) {
      expect(await audioOf(api.url, id)).toEqual(await expectedWav(`Job number ${i} of twenty.`, "announcer", i))
    }
  })

  it("a worker killed mid-job (SIGKILL): another worker takes the job after the stall check and gives the same audio", async () => {
    const doomed = await start("worker", { BARK_MOCK_LATENCY_MS: "1500" })
    const job = await json(await postJob(api.url, { text: LONG, voice: "v2/de_speaker_3", seed: 7 }))
    await awaitJob(api.url, job.id, ["running"])
    await sleep(300)
    doomed.child.kill("SIGKILL")
    await doomed.exited
    const survivor = await start("worker", { BARK_MOCK_LATENCY_MS: "50" })
    const done = await awaitJob(api.url, job.id, ["completed"], 30_000)
    expect(done.attempts.made).toBe(1) // a stall is not a failed attempt
    expect(await audioOf(api.url, job.id)).toEqual(await expectedWav(LONG, "v2/de_speaker_3", 7))
    const metrics = await (await fetch(`${survivor.url}/metrics`)).text()
    expect(metricSum(metrics, "bark_jobs_processed_total", `outcome="completed"`)).toBe(1)
  })

  it("Redis restarted mid-run: the worker reconnects and every job completes once", async () => {
    const worker = await start("worker", { BARK_MOCK_LATENCY_MS: "200" })
    const ids: Array<string> = []
    for (let i = 0; i < 6; i++) ids.push((await json(await postJob(api.url, { text: `Survive the restart, number ${i}.`, seed: 100 + i }))).id)
    await awaitJob(api.url, ids[0]!, ["running", "completed"])
    await redis.stop()
    // While Redis is down the job routes answer 503 and the worker is not ready; synchronous synthesis still works.
    const down = await postJob(api.url, { text: "Not now." })
    expect(down.status).toBe(503)
    expect((await json(down)).error.code).toBe("jobs_unavailable")
    expect((await fetch(`${api.url}/synthesize`, { method: "POST", body: JSON.stringify({ text: "Still here." }) })).status).toBe(200)
    await waitFor("the worker to report the queue down", async () => (await fetch(`${worker.url}/health/ready`)).status === 503 || undefined)
    await sleep(1000)
    await redis.start()
    const finished = await Promise.all(ids.map((id) => awaitJob(api.url, id, ["completed"], 40_000)))
    expect(finished.map((job) => job.state)).toEqual(ids.map(() => "completed"))
    await waitFor("the worker to be ready again", async () => (await fetch(`${worker.url}/health/ready`)).status === 200 || undefined)
    const metrics = await (await fetch(`${worker.url}/metrics`)).text()
    expect(metricSum(metrics, "bark_jobs_processed_total", `outcome="completed"`)).toBe(6)
    for (const [i, id] of ids.entries()) {
      expect(await audioOf(api.url, id)).toEqual(await expectedWav(`Survive the restart, number ${i}.`, "announcer", 100 + i))
    }
  })

  it("cancels a running job between steps and a queued one before it starts", async () => {
    const worker = await start("worker", { BARK_MOCK_LATENCY_MS: "900" })
    const running = await json(await postJob(api.url, { text: LONG }))
    const queued = await json(await postJob(api.url, { text: "Never spoken." }))
    await awaitJob(api.url, running.id, ["running"])
    // The queued one first: once the running one stops, the worker takes the next.
    const cancelQueued = await json(await fetch(`${api.url}/v1/jobs/${queued.id}`, { method: "DELETE" }))
    expect(cancelQueued.state).toBe("cancelled")
    const cancel = await fetch(`${api.url}/v1/jobs/${running.id}`, { method: "DELETE" })
    expect(cancel.status).toBe(202)
    const stopped = await awaitJob(api.url, running.id, ["cancelled"], 10_000)
    // It stopped before its three chunks were done.
    expect(stopped.progress?.sentences.done ?? 0).toBeLessThan(3)
    expect(stopped.attempts.made).toBe(1)
    const audio = await fetch(`${api.url}/v1/jobs/${running.id}/audio`)
    expect(audio.status).toBe(409)
    expect((await json(audio)).error.code).toBe("job_not_completed")
    // The worker goes on to the next job.
    const next = await json(await postJob(api.url, { text: "After the cancel." }))
    await awaitJob(api.url, next.id, ["completed"])
    expect((await awaitJob(api.url, queued.id, ["cancelled"])).finishedAt).not.toBeNull()
    const metrics = await (await fetch(`${worker.url}/metrics`)).text()
    expect(metricSum(metrics, "bark_jobs_processed_total", `outcome="cancelled"`)).toBe(2)
    // A finished job cannot be cancelled.
    expect((await fetch(`${api.url}/v1/jobs/${next.id}`, { method: "DELETE" })).status).toBe(409)
  })

  it("rejects bad payloads at enqueue with 400, and a poisoned job in Redis is dead-lettered without harming the worker", async () => {
    const worker = await start("worker")
    const cases: ReadonlyArray<readonly [unknown, string | null]> = [
      [{ text: "" }, "text"],
      [{ text: 42 }, null],
      [{ voice: "announcer" }, null],
      [{ text: "Hi.", format: "ogg-vorbis" }, "format"],
      [{ text: "Hi.", voice: "v9/xx_speaker_99" }, "voice"],
      [{ text: "Hi.", temperatures: { semantic: -1 } }, "temperatures"],
      [{ text: "Hi.", seed: 1.5 }, null],
      [{ text: "x".repeat(100_001) }, "text"]
    ]
    for (const [body, param] of cases) {
      const response = await postJob(api.url, body)
      expect(response.status, JSON.stringify(body).slice(0, 80)).toBe(400)
      const error = (await json(response)).error
      expect(error.param).toBe(param)
      expect(error.remediation.length).toBeGreaterThan(0)
    }
    const notJson = await fetch(`${api.url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" })
    expect(notJson.status).toBe(400)
    expect((await fetch(`${api.url}/v1/jobs/not-a-job`)).status).toBe(404)
    expect((await fetch(`${api.url}/v1/jobs/00000000-0000-4000-8000-000000000000`)).status).toBe(404)

    // Straight into Redis, past the API: a payload no worker can use.
    const queue = new Queue("bark-synthesis", { connection: { url: redis.url } })
    await queue.add("synthesize", { request: { text: ["not", "text"] } } as never, { jobId: "1b4e28ba-2ca1-4d2f-9e3a-000000000001", attempts: 3 })
    await queue.add("synthesize", { nothing: true } as never, { jobId: "1b4e28ba-2ca1-4d2f-9e3a-000000000002", attempts: 3 })
    await queue.close()
    for (const id of ["1b4e28ba-2ca1-4d2f-9e3a-000000000001", "1b4e28ba-2ca1-4d2f-9e3a-000000000002"]) {
      const dead = await awaitJob(api.url, id, ["dead-letter"])
      expect(dead.attempts.made).toBeLessThanOrEqual(1) // not retried: it could never succeed
      expect(dead.error).toMatch(/invalid job request/)
    }
    const good = await json(await postJob(api.url, { text: "Still working." }))
    await awaitJob(api.url, good.id, ["completed"])
    expect(worker.child.exitCode).toBeNull()
  })

  it("retries a failing job up to BARK_JOB_ATTEMPTS and then dead-letters it, listed by GET /v1/jobs?state=dead-letter", async () => {
    // The results directory is a file: every write fails, a fault that might clear, so the job is retried.
    const blocked = path.join(tempDir("bark-blocked-"), "results")
    fs.writeFileSync(blocked, "not a directory")
    const worker = await start("worker", { BARK_RESULTS_DIR: blocked, BARK_JOB_ATTEMPTS: "3" })
    const job = await json(await postJob(api.url, { text: "Doomed to fail." }))
    expect(job.attempts.max).toBe(3)
    const dead = await awaitJob(api.url, job.id, ["dead-letter"])
    expect(dead.attempts.made).toBe(3)
    expect(dead.error).toMatch(/BARK_RESULTS_DIR/)
    const listed = await json(await fetch(`${api.url}/v1/jobs?state=dead-letter`))
    expect(listed.data.map((j: { id: string }) => j.id)).toEqual([job.id])
    expect((await fetch(`${api.url}/v1/jobs?state=bogus`)).status).toBe(400)
    const metrics = await (await fetch(`${worker.url}/metrics`)).text()
    expect(metricSum(metrics, "bark_jobs_processed_total", `outcome="retry"`)).toBe(2)
    expect(metricSum(metrics, "bark_jobs_processed_total", `outcome="dead-letter"`)).toBe(1)
  })

  it("Redis unreachable at startup: worker fails with a remediation; serve serves synchronous requests and shows jobs unavailable", async () => {
    const nowhere = { BARK_REDIS_URL: "redis://127.0.0.1:1", BARK_REDIS_CONNECT_TIMEOUT_S: "1" }
    const failed = await startService("worker", "mock", { ...base, ...nowhere }).then(
      () => { throw new Error("the worker started without Redis") },
      (e: Error) => e.message
    )
    expect(failed).toMatch(/✗ worker/)
    expect(failed).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1 \(BARK_REDIS_URL\) within 1 s/)
    expect(failed).toMatch(/BARK_REDIS_URL/)
    expect(failed).toMatch(/exited \(1\)/)

    const api = await start("serve", nowhere)
    const health = await json(await fetch(`${api.url}/health`))
    expect(health.ready).toBe(true)
    expect(health.jobs.available).toBe(false)
    expect(health.jobs.reason).toMatch(/unreachable/)
    expect((await fetch(`${api.url}/synthesize`, { method: "POST", body: JSON.stringify({ text: "Still served." }) })).status).toBe(200)
    const refused = await postJob(api.url, { text: "Queue me." })
    expect(refused.status).toBe(503)
    expect(refused.headers.get("retry-after")).toBe("5")
    expect((await json(refused)).error.remediation).toMatch(/Redis/)
  })

  it("SIGTERM lets the running job finish before the worker exits", async () => {
    const worker = await start("worker", { BARK_MOCK_LATENCY_MS: "400" })
    const job = await json(await postJob(api.url, { text: "Finish me. Please finish me before you go." }))
    await awaitJob(api.url, job.id, ["running"])
    const code = await worker.stop()
    expect(code).toBe(ExitCode.ok)
    expect(worker.stderr()).toContain("draining in-flight requests and running jobs")
    expect((await awaitJob(api.url, job.id, ["completed"])).attempts.made).toBe(1)
  })

  it("the library call: connectJobs submits, waits and cancels from a plain Node program", async () => {
    // Slow enough that the cancel lands while the long job still runs (the worker looks every 0.5 s).
    const worker = await start("worker", { BARK_MOCK_LATENCY_MS: "1500" })
    const jobs = await connectJobs({ redisUrl: redis.url })
    try {
      const submitted = await jobs.submit({ text: "From the library.", voice: "v2/en_speaker_2", seed: 9 })
      expect(submitted.state).toBe("queued")
      const done = await jobs.wait(submitted.id, { pollMs: 50 })
      expect(done.result?.file).toBe(`${submitted.id}.wav`)
      expect(new Uint8Array(fs.readFileSync(path.join(base["BARK_RESULTS_DIR"]!, done.result!.file)))).toEqual(
        await expectedWav("From the library.", "v2/en_speaker_2", 9)
      )
      await expect(jobs.submit({ text: "  " })).rejects.toMatchObject({ _tag: "JobRejected", param: "text" })
      const long = await jobs.submit({ text: LONG })
      await waitFor("the job to start", async () => (await jobs.status(long.id))?.state === "running" || undefined)
      await jobs.cancel(long.id)
      await expect(jobs.wait(long.id, { pollMs: 50 })).rejects.toThrow(/cancelled/)
      expect(worker.child.exitCode).toBeNull()
    } finally {
      await jobs.close()
    }
    await expect(connectJobs({ redisUrl: "redis://127.0.0.1:1", connectTimeoutMs: 300 })).rejects.toMatchObject({
      _tag: "JobsUnavailable",
      remediation: expect.stringMatching(/BARK_REDIS_URL/)
    })
  })
})
