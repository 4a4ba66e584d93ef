/**
 * A job on the real engine: `bark-pipeline worker --profile demo --dtype q4`
 * (random-weight Bark converted in a temp cache, worker-thread engine) takes
 * jobs from a real Redis; the same request and seed give the same audio.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { decodeWav } from "../../src/audio/wav.ts"
import { awaitJob, hasRedis, json, postJob, type RedisServer, removeDirs, type Service, startRedis, startService, tempDir } from "./support.ts"

describe.skipIf(!hasRedis)("jobs on the demo model", () => {
  let redis: RedisServer
  let worker: Service
  let api: Service

  beforeAll(async () => {
    redis = await startRedis()
    const cache = tempDir("bark-cache-")
    const env = {
      BARK_REDIS_URL: redis.url,
      BARK_RESULTS_DIR: tempDir("bark-results-"),
      BARK_CACHE_DIR: cache,
      BARK_DTYPE: "q4",
      BARK_DEMO_OUT: `${cache}/demo.wav`
    }
    worker = await startService("worker", "demo", env)
    api = await startService("serve", "mock", env)
  }, 240_000)
  afterAll(async () => {
    await Promise.all([worker?.stop(), api?.stop()])
    await redis?.stop()
    removeDirs()
  })

  it("a worker on the demo engine completes a seeded job, and the same seed gives the same audio again", async () => {
    const health = await json(await fetch(`${worker.url}/health`))
    expect(health).toMatchObject({ ready: true, engine: "bark", dtype: "q4", jobs: { available: true } })
    const request = { text: "Hello from a queued job.", voice: "v2/en_speaker_1", seed: 11 }
    const first = await json(await postJob(api.url, request))
    const second = await json(await postJob(api.url, request))
    const done = await awaitJob(api.url, first.id, ["completed"], 120_000)
    expect(done.progress.tokens).toBeGreaterThan(0)
    await awaitJob(api.url, second.id, ["completed"], 120_000)
    const audio = async (id: string) => new Uint8Array(await (await fetch(`${api.url}/v1/jobs/${id}/audio`)).arrayBuffer())
    const [a, b] = [await audio(first.id), await audio(second.id)]
    const wav = await Effect.runPromise(decodeWav(a))
    expect(wav.sampleRate).toBe(24_000)
    expect(wav.samples.length / wav.sampleRate).toBeCloseTo(done.result.durationS, 3)
    expect(wav.samples.some((x) => Math.abs(x) > 0.01)).toBe(true)
    expect(b).toEqual(a)
  }, 240_000)
})
