/**
 * Spans per synthesis stage, at a receiver: the mock service, in process,
 * exports over OTLP/HTTP to a receiver on 127.0.0.1; each stage of a
 * request's synthesis arrives as `synthesis.<stage>` under the request's
 * span, with its outcome, its chunk and its numeric metadata, a failed
 * stage with an error status.
 */
import { ConfigProvider, Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import mock from "../../pipelines/mock.ts"
import * as Server from "../../src/server/Server.ts"
import { spansOf } from "../support/otlp.ts"

const bodies: Array<any> = []
let receiver: http.Server
let endpoint = ""

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      if (req.url === "/v1/traces") bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")))
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())))

const spans = () => bodies.flatMap(spansOf)

/** Runs the mock service with OTLP export to the receiver for `f`, then stops it, which flushes the spans. */
const withServer = async (f: (url: string) => Promise<void>) => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "bark-spans-"))
  const scope = Effect.runSync(Scope.make())
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_SERVICE_NAME: "bark-spans-test",
    OTEL_METRICS_EXPORTER: "none",
    OTEL_LOGS_EXPORTER: "none",
    OTEL_BSP_SCHEDULE_DELAY: "60000"
  }
  try {
    const running = await Effect.runPromise(
      Server.start(mock, { config: { BARK_PORT: "0", BARK_CACHE_DIR: cache, BARK_JOBS: "off" } }).pipe(
        Scope.provide(scope),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
      )
    )
    await f(running.url)
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    fs.rmSync(cache, { recursive: true, force: true })
  }
}

/** Two long-form chunks on the mock. */
const TWO_CHUNKS = "The first sentence of a long script opens the scene with a view over the harbour at dawn. " +
  "Then a second one follows it, describing the boats that leave one after another. " +
  "A third sentence comes after that and names the fisherman who waits on the pier."

const post = (url: string, id: string, body: unknown) =>
  fetch(`${url}/synthesize`, { method: "POST", headers: { "content-type": "application/json", "x-request-id": id }, body: JSON.stringify(body) })
    .then(async (r) => ({ status: r.status, bytes: (await r.arrayBuffer()).byteLength }))

describe("synthesis.<stage> spans", () => {
  it("arrive at the receiver under the request's span, with outcome, chunk and numeric metadata; a failed stage is an error", async () => {
    await withServer(async (url) => {
      expect((await post(url, "spans-ok", { text: TWO_CHUNKS, seed: 2 })).status).toBe(200)
      expect((await post(url, "spans-bad", { text: "Hello.", voice: "nobody" })).status).toBe(400)
    })
    const all = spans()
    const requestSpan = (id: string) => {
      const found = all.filter((s) => s.attributes["bark.request_id"] === id)
      expect(found, all.map((s) => s.name).join(", ")).toHaveLength(1)
      return found[0]!
    }
    const ok = requestSpan("spans-ok")
    expect(ok.name).toMatch(/POST/)
    const children = all.filter((s) => s.parentSpanId === ok.spanId && s.name.startsWith("synthesis."))
    expect(children.every((s) => s.traceId === ok.traceId)).toBe(true)
    const chunks = Number(children.find((s) => s.name === "synthesis.split")?.attributes["bark.chunks"])
    expect(chunks).toBe(2)
    expect(children.map((s) => s.name).sort()).toEqual(
      ["synthesis.split", "synthesis.voice", ...Array.from({ length: chunks }, () => ["synthesis.mock-audio", "synthesis.post"]).flat()].sort()
    )
    for (const span of children) {
      expect(span.attributes["bark.outcome"], span.name).toBe("succeeded")
      expect(span.status.code, span.name).toBe(1) // OK
    }
    const split = children.find((s) => s.name === "synthesis.split")!
    expect(split.attributes).toMatchObject({ "bark.pipeline": "mock/prepare", "bark.stage": "split" })
    expect(split.attributes["bark.chunk"]).toBeUndefined()
    const audio = children.filter((s) => s.name === "synthesis.mock-audio")
    expect(audio.map((s) => Number(s.attributes["bark.chunk"])).sort()).toEqual([0, 1])
    expect(audio.every((s) => s.attributes["bark.pipeline"] === "mock/chunk" && Number(s.attributes["bark.samples"]) > 0)).toBe(true)

    const bad = requestSpan("spans-bad")
    const voice = all.find((s) => s.parentSpanId === bad.spanId && s.name === "synthesis.voice")
    expect(voice?.attributes).toMatchObject({ "bark.outcome": "failed", "bark.error": "SynthesisError" })
    expect(voice?.status).toMatchObject({ code: 2, message: expect.stringContaining("no voice \"nobody\"") })
    expect(voice?.events.map((e) => e.name)).toContain("exception")
  })
})
