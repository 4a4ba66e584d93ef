/**
 * Continuous batching in the service: `serve --profile demo --dtype q4` with
 * BARK_MAX_BATCH=4 (worker-thread engine) under concurrent requests returns
 * each client the audio it gets when it is alone, and the batch-size
 * histogram shows the steps were shared.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { metricSum, removeDirs, type Service, startService, tempDir } from "../jobs/support.ts"

const requests = [
  { text: "The first client asks for this.", voice: "v2/en_speaker_0", seed: 1 },
  { text: "A second client, another voice and a longer sentence to say.", voice: "v2/en_speaker_1", seed: 2 },
  { text: "Third.", seed: 3 },
  { text: "The fourth client waits its turn like the others.", voice: "v2/en_speaker_0", seed: 4 }
]

describe("bark-pipeline serve with BARK_MAX_BATCH=4 (demo model, q4)", () => {
  let server: Service
  beforeAll(async () => {
    const cache = tempDir("bark-cache-")
    server = await startService("serve", "demo", {
      BARK_CACHE_DIR: cache,
      BARK_DTYPE: "q4",
      BARK_MAX_BATCH: "4",
      BARK_DEMO_OUT: `${cache}/demo.wav`,
      BARK_JOBS: "off"
    })
  }, 240_000)
  afterAll(async () => {
    await server?.stop()
    removeDirs()
  })

  const synthesize = async (body: unknown) => {
    const response = await fetch(`${server.url}/synthesize`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
    expect(response.status).toBe(200)
    return new Uint8Array(await response.arrayBuffer())
  }

  it("answers concurrent clients each with its own audio, as when each is alone", async () => {
    const together = await Promise.all(requests.map(synthesize))
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    const tokens = metricSum(metrics, "bark_batch_size_count")
    const alone = metricSum(metrics, "bark_batch_size_bucket", `le="1"`)
    expect(tokens).toBeGreaterThan(0)
    expect(alone).toBeLessThan(tokens) // some tokens came from shared steps

    const oneByOne: Array<Uint8Array> = []
    for (const request of requests) oneByOne.push(await synthesize(request))
    for (const [i, audio] of together.entries()) expect(audio, `request ${i}`).toEqual(oneByOne[i])
    expect(new Set(together.map((a) => Buffer.from(a).toString("base64"))).size).toBe(requests.length)
    const health = (await (await fetch(`${server.url}/health`)).json()) as { queue: { maxConcurrency: number } }
    expect(health.queue.maxConcurrency).toBe(4)
  }, 240_000)
})
