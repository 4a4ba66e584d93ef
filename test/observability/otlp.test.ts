import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { ConfigProvider, Effect, Metric, Option, Tracer } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import * as Otlp from "../../src/observability/otlp.ts"
import { currentTraceparent, format, parse, withParent } from "../../src/observability/traceContext.ts"

// --- a local OTLP/HTTP receiver -------------------------------------------------

interface Received {
  readonly path: string
  readonly contentType: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
}

interface KeyValue {
  readonly key: string
  readonly value: {
    readonly stringValue?: string
    readonly intValue?: number | string
    readonly doubleValue?: number
    readonly boolValue?: boolean
  }
}

interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly resource: Record<string, unknown>
}

const attributes = (kvs: ReadonlyArray<KeyValue>): Record<string, unknown> =>
  Object.fromEntries(kvs.map((kv) => [kv.key, kv.value.stringValue ?? kv.value.intValue ?? kv.value.doubleValue ?? kv.value.boolValue]))

const requests: Array<Received> = []
let server: http.Server
let base = ""

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      // Recorded before the response, so an exporter that awaited its POST has been seen.
      requests.push({
        path: req.url ?? "",
        contentType: req.headers["content-type"] ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks)
      })
      const known = req.method === "POST" && /\/v1\/(traces|metrics|logs)$|\/custom\/traces$/.test(req.url ?? "")
      res.writeHead(known ? 200 : 404, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
beforeEach(() => {
  requests.length = 0
})

const json = (r: Received): any => {
  expect(r.contentType).toBe("application/json")
  return JSON.parse(r.body.toString("utf8"))
}

const spansIn = (received: ReadonlyArray<Received>): Array<ReceivedSpan> =>
  received.flatMap((r) =>
    (json(r).resourceSpans as Array<any>).flatMap((rs) =>
      (rs.scopeSpans as Array<any>).flatMap((ss) =>
        (ss.spans as Array<any>).map((s): ReceivedSpan => ({ ...s, resource: attributes(rs.resource.attributes) }))
      )
    )
  )

/** The protobuf fields of a message: number, and bytes for length-delimited ones (all that OTLP spans need here). */
const protobufFields = (buf: Buffer): Array<{ readonly no: number; readonly bytes: Buffer | undefined }> => {
  const fields: Array<{ no: number; bytes: Buffer | undefined }> = []
  let i = 0
  const varint = () => {
    let value = 0n
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[i++]!
      value |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return value
    }
  }
  while (i < buf.length) {
    const key = Number(varint())
    const wire = key & 7
    if (wire === 0) varint()
    else if (wire === 1) i += 8
    else if (wire === 5) i += 4
    else if (wire === 2) {
      const len = Number(varint())
      fields.push({ no: key >> 3, bytes: buf.subarray(i, i + len) })
      i += len
      continue
    } else throw new Error(`unexpected wire type ${wire}`)
    fields.push({ no: key >> 3, bytes: undefined })
  }
  return fields
}
const sub = (buf: Buffer, no: number) => protobufFields(buf).filter((f) => f.no === no && f.bytes !== undefined).map((f) => f.bytes!)

/** TracesData(1: resource_spans) > ResourceSpans(1: resource, 2: scope_spans) > ScopeSpans(2: spans) > Span. */
const protobufSpans = (body: Buffer): Array<ReceivedSpan> =>
  sub(body, 1).flatMap((rs) => {
    const resource = Object.fromEntries(
      sub(rs, 1).flatMap((r) => sub(r, 1)).map((kv) => [sub(kv, 1)[0]!.toString("utf8"), sub(sub(kv, 2)[0]!, 1)[0]?.toString("utf8")])
    )
    return sub(rs, 2).flatMap((ss) =>
      sub(ss, 2).map((span): ReceivedSpan => {
        const parent = sub(span, 4)[0]
        return {
          traceId: sub(span, 1)[0]!.toString("hex"),
          spanId: sub(span, 2)[0]!.toString("hex"),
          ...(parent !== undefined && parent.length > 0 ? { parentSpanId: parent.toString("hex") } : {}),
          name: sub(span, 5)[0]!.toString("utf8"),
          resource
        }
      })
    )
  })

const at = (suffix: string) => requests.filter((r) => r.path.endsWith(suffix))
const spans = () => spansIn(at("/v1/traces"))
const spanNamed = (name: string, all = spans()): ReceivedSpan => {
  const found = all.filter((s) => s.name === name)
  expect(found, `one span named ${name}`).toHaveLength(1)
  return found[0]!
}

// --- running a program the way the CLI would: layer outermost, env through Config --

/** Long intervals: whatever arrives before the program returns came from the flush at scope close. */
const noIntervals = {
  OTEL_BSP_SCHEDULE_DELAY: "60000",
  OTEL_METRIC_EXPORT_INTERVAL: "60000",
  OTEL_BLRP_SCHEDULE_DELAY: "60000"
}

const run = <A, E>(program: Effect.Effect<A, E>, env: Record<string, string>): Promise<A> =>
  Effect.runPromise(
    program.pipe(
      Effect.provide(Otlp.layer),
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { ...noIntervals, ...env } }))),
      // a registry per run, so one test's counters do not show up in another's export
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  )

const jobs = Metric.counter("otlp_test_jobs_total", { description: "jobs seen by the test", incremental: true })

/** parent > child; the child counts 3 jobs, logs a line and returns its traceparent and whether its span is the built-in tracer's. */
const program = Effect.gen(function*() {
  yield* Metric.update(jobs, 3)
  yield* Effect.logInfo("hello otlp")
  const span = yield* Effect.currentSpan
  return { traceparent: yield* currentTraceparent, native: span instanceof Tracer.NativeSpan }
}).pipe(Effect.withSpan("child"), Effect.withSpan("parent"))

const packageVersion = (JSON.parse(fs.readFileSync(path.join(import.meta.dirname, "../../package.json"), "utf8")) as {
  version: string
}).version

describe("observability/otlp layer", () => {
  it("exports spans with names, parent links and the resource, flushed when the program returns", async () => {
    const result = await run(program, {
      OTEL_EXPORTER_OTLP_ENDPOINT: base,
      OTEL_SERVICE_NAME: "bark-test",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test, team=audio%20ml%2Cvoice"
    })
    expect(result.native).toBe(false)
    // No interval fired (60 s): these arrived through the flush on scope close.
    const all = spans()
    expect(all.map((s) => s.name).sort()).toEqual(["child", "parent"])
    const parent = spanNamed("parent", all)
    const child = spanNamed("child", all)
    expect(parent.parentSpanId).toBeUndefined()
    expect(child.parentSpanId).toBe(parent.spanId)
    expect(child.traceId).toBe(parent.traceId)
    expect(parent.traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(result.traceparent).toBe(`00-${child.traceId}-${child.spanId}-01`)
    expect(parent.resource).toMatchObject({
      "service.name": "bark-test",
      "service.version": packageVersion,
      "deployment.environment": "test",
      team: "audio ml,voice",
      "telemetry.sdk.name": "effect"
    })
  })

  it("exports an Effect metric to /v1/metrics and logs to /v1/logs, with the same resource", async () => {
    await run(program, { OTEL_EXPORTER_OTLP_ENDPOINT: `${base}/` })
    const [metrics] = at("/v1/metrics")
    expect(metrics?.path).toBe("/v1/metrics")
    const body = json(metrics!)
    const rm = body.resourceMetrics[0]
    expect(attributes(rm.resource.attributes)["service.name"]).toBe(Otlp.DEFAULT_SERVICE_NAME)
    const counter = (rm.scopeMetrics[0].metrics as Array<any>).find((m) => m.name === "otlp_test_jobs_total")
    expect(counter?.sum.isMonotonic).toBe(true)
    expect(counter?.sum.dataPoints.map((p: any) => p.asDouble ?? Number(p.asInt))).toEqual([3])

    const records = at("/v1/logs").flatMap((r) => json(r).resourceLogs[0].scopeLogs[0].logRecords as Array<any>)
    const hello = records.find((l) => l.body.stringValue === "hello otlp")
    expect(hello?.severityText).toBe("Info")
    expect(hello?.spanId).toBe(spanNamed("child").spanId)
  })

  it("sends a signal to its own endpoint when one is set, and the headers from OTEL_EXPORTER_OTLP_HEADERS", async () => {
    await run(program, {
      OTEL_EXPORTER_OTLP_ENDPOINT: `${base}/base`,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${base}/custom/traces`,
      OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=s%3Dcret"
    })
    expect(requests.map((r) => r.path).sort()).toEqual(["/base/v1/logs", "/base/v1/metrics", "/custom/traces"])
    expect(spansIn(at("/custom/traces")).map((s) => s.name).sort()).toEqual(["child", "parent"])
    for (const r of requests) expect(r.headers["x-api-key"]).toBe("s=cret")
  })

  it("speaks protobuf when OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", async () => {
    await run(program, { OTEL_EXPORTER_OTLP_ENDPOINT: base, OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" })
    const [traces] = at("/v1/traces")
    expect(traces?.contentType).toBe("application/x-protobuf")
    const all = protobufSpans(traces!.body)
    expect(all.map((s) => s.name).sort()).toEqual(["child", "parent"])
    const parent = spanNamed("parent", all)
    expect(spanNamed("child", all).parentSpanId).toBe(parent.spanId)
    expect(parent.resource["service.name"]).toBe(Otlp.DEFAULT_SERVICE_NAME)
  })

  it("is a no-op without an endpoint (blank counts as unset): the program runs on the built-in tracer", async () => {
    const result = await run(program, { OTEL_EXPORTER_OTLP_ENDPOINT: " ", OTEL_SERVICE_NAME: "bark-test" })
    expect(result.native).toBe(true)
    expect(result.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    expect(requests).toEqual([])
  })

  it("sends nothing with OTEL_SDK_DISABLED=true, and no traces with OTEL_TRACES_EXPORTER=none", async () => {
    const disabled = await run(program, { OTEL_EXPORTER_OTLP_ENDPOINT: base, OTEL_SDK_DISABLED: "true" })
    expect(disabled.native).toBe(true)
    expect(requests).toEqual([])

    await run(program, { OTEL_EXPORTER_OTLP_ENDPOINT: base, OTEL_TRACES_EXPORTER: "none" })
    expect(requests.map((r) => r.path).sort()).toEqual(["/v1/logs", "/v1/metrics"])
  })

  it("fails with a ConfigError on an endpoint that is not a URL", async () => {
    await expect(run(program, { OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" })).rejects.toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/)
    expect(requests).toEqual([])
  })
})

describe("observability/traceContext across a queue hand-off", () => {
  const env = () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: base })

  it("a job run under withParent(traceparent) in another run continues the producer's trace", async () => {
    // producer: enqueues inside its span and stores the traceparent with the job
    const traceparent = await run(currentTraceparent.pipe(Effect.withSpan("enqueue")), {
      OTEL_EXPORTER_OTLP_ENDPOINT: base,
      OTEL_SERVICE_NAME: "producer"
    })
    expect(traceparent).toBeDefined()
    // worker: a separate runtime and exporter, which only has the string
    await run(Effect.void.pipe(Effect.withSpan("decode"), Effect.withSpan("process"), withParent(traceparent)), {
      OTEL_EXPORTER_OTLP_ENDPOINT: base,
      OTEL_SERVICE_NAME: "worker"
    })
    const all = spans()
    const enqueue = spanNamed("enqueue", all)
    const processSpan = spanNamed("process", all)
    const decode = spanNamed("decode", all)
    expect(enqueue.resource["service.name"]).toBe("producer")
    expect(processSpan.resource["service.name"]).toBe("worker")
    expect(traceparent).toBe(`00-${enqueue.traceId}-${enqueue.spanId}-01`)
    expect(processSpan.traceId).toBe(enqueue.traceId)
    expect(processSpan.parentSpanId).toBe(enqueue.spanId)
    expect(decode.traceId).toBe(enqueue.traceId)
    expect(decode.parentSpanId).toBe(processSpan.spanId)
  })

  it("ignores a missing or malformed traceparent: the job starts a trace of its own", async () => {
    const bad = [
      undefined,
      "",
      "garbage",
      `00-${"0".repeat(32)}-${"1".repeat(16)}-01`,
      `00-${"A".repeat(32)}-${"1".repeat(16)}-01`,
      `ff-${"a".repeat(32)}-${"1".repeat(16)}-01`,
      `00-${"a".repeat(32)}-${"1".repeat(16)}-01-extra`
    ]
    for (const value of bad) {
      requests.length = 0
      await run(Effect.void.pipe(Effect.withSpan("process"), withParent(value)), env())
      const span = spanNamed("process")
      expect(span.parentSpanId, String(value)).toBeUndefined()
      expect(span.traceId).not.toBe("a".repeat(32))
    }
  })

  it("follows the sampled flag: a job whose producer was not sampled exports no spans", async () => {
    await run(Effect.void.pipe(Effect.withSpan("process"), withParent(`00-${"a".repeat(32)}-${"1".repeat(16)}-00`)), env())
    expect(spans()).toEqual([])
    await run(Effect.void.pipe(Effect.withSpan("process"), withParent(`00-${"a".repeat(32)}-${"1".repeat(16)}-01`)), env())
    expect(spanNamed("process")).toMatchObject({ traceId: "a".repeat(32), parentSpanId: "1".repeat(16) })
  })

  it("currentTraceparent is undefined outside a span, and parse/format round-trip", async () => {
    expect(await Effect.runPromise(currentTraceparent)).toBeUndefined()
    const value = `00-${"4bf92f3577b34da6a3ce929d0e0e4736"}-${"00f067aa0ba902b7"}-01`
    const span = Option.getOrThrow(parse(` ${value} `))
    expect(span).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", sampled: true })
    expect(format(span)).toBe(value)
    // a later version is read by its first four fields
    expect(Option.isSome(parse(`01-${"4bf92f3577b34da6a3ce929d0e0e4736"}-${"00f067aa0ba902b7"}-01-more`))).toBe(true)
    expect(format(Tracer.externalSpan({ traceId: "trace-456", spanId: "span-123" }))).toBeUndefined()
  })
})
