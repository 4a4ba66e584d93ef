/**
 * Continuous batching in the service: a server on a tiny random Bark with
 * BARK_MAX_BATCH=4 and the worker-thread engine, under concurrent requests,
 * returns each client the audio it gets when it is alone, and the
 * batch-size histogram shows the steps were shared.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeRandomCheckpoint, presets } from "../../src/dev/randomCheckpoint.ts"
import { writeBarkModelDir } from "../../src/dev/modelDir.ts"
import { localRecipe } from "../bark/engine/localRecipe.ts"
import { metricSum } from "../jobs/support.ts"
import * as Server from "../../src/server/Server.ts"
import { postJson } from "./support.ts"

const requests = [
  { text: "The first client asks for this.", voice: "v2/en_speaker_0", seed: 1 },
  { text: "A second client, another voice and a longer sentence to say.", voice: "v2/en_speaker_1", seed: 2 },
  { text: "Third.", seed: 3 },
  { text: "The fourth client waits its turn like the others.", voice: "v2/en_speaker_0", seed: 4 }
]

describe("a service with BARK_MAX_BATCH=4 (tiny model, worker-thread engine)", () => {
  let url = ""
  const scope = Effect.runSync(Scope.make())
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bark-batch-serve-"))
  beforeAll(async () => {
    await Effect.runPromise(
      Effect.flatMap(makeRandomCheckpoint(presets.tiny), (c) => writeBarkModelDir(dir, c, { voices: 2 })).pipe(Effect.provide(NodeServices.layer))
    )
    const config = { BARK_MODEL: dir, BARK_MAX_BATCH: "4", BARK_ENGINE: "worker", BARK_JOBS: "off", BARK_PORT: "0" }
    const running = await Effect.runPromise(
      Server.start(localRecipe, { config }).pipe(Scope.provide(scope), Effect.provide(NodeServices.layer))
    )
    url = running.url
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  const synthesize = async (body: unknown) => {
    const response = await postJson(`${url}/synthesize`, body)
    expect(response.status).toBe(200)
    return new Uint8Array(await response.arrayBuffer())
  }

  it("answers concurrent clients each with its own audio, as when each is alone", async () => {
    const together = await Promise.all(requests.map(synthesize))
    const metrics = await (await fetch(`${url}/metrics`)).text()
    const tokens = metricSum(metrics, "bark_batch_size_count")
    const alone = metricSum(metrics, "bark_batch_size_bucket", `le="1"`)
    expect(tokens).toBeGreaterThan(0)
    expect(alone).toBeLessThan(tokens) // some tokens came from shared steps

    const oneByOne: Array<Uint8Array> = []
    for (const request of requests) oneByOne.push(await synthesize(request))
    for (const [i, audio] of together.entries()) expect(audio, `request ${i}`).toEqual(oneByOne[i])
    expect(new Set(together.map((a) => Buffer.from(a).toString("base64"))).size).toBe(requests.length)
    const health = (await (await fetch(`${url}/health`)).json()) as { queue: { maxConcurrency: number } }
    expect(health.queue.maxConcurrency).toBe(4)
  })

  it("a client that goes away mid-batch leaves it; the others still get their own audio", async () => {
    const [keep, leave] = [requests[1]!, { text: "This client hangs up before the end of a long text. It has several sentences to say. So it will still be running.", seed: 9 }]
    const expected = await synthesize(keep)
    const shared = (metrics: string) => metricSum(metrics, "bark_batch_size_count") - metricSum(metrics, "bark_batch_size_bucket", `le="1"`)
    const start = await (await fetch(`${url}/metrics`)).text()
    const before = metricSum(start, "bark_generations_total", `outcome="interrupted"`)
    const abort = new AbortController()
    const leaving = postJson(`${url}/synthesize`, leave, { signal: abort.signal }).catch((e: Error) => e)
    const kept = synthesize(keep)
    // Hang up once the two share steps.
    while (shared(await (await fetch(`${url}/metrics`)).text()) === shared(start)) await new Promise((resolve) => setTimeout(resolve, 10))
    abort.abort()
    expect(await leaving).toBeInstanceOf(Error)
    expect(await kept).toEqual(expected)
    const after = metricSum(await (await fetch(`${url}/metrics`)).text(), "bark_generations_total", `outcome="interrupted"`)
    expect(after).toBe(before + 1)
  })
})
