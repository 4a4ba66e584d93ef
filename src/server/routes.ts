/**
 * The service's routes: OpenAI-compatible speech, models and voices, native
 * synthesis (whole or streamed), liveness, readiness, health and metrics.
 * Every handler answers errors in OpenAI's shape with this service's tag and
 * remediation beside it (./ApiError.ts), is counted in
 * `bark_requests_total{route,status}`, and answers with an `x-request-id`
 * (./requestId.ts). Every synthesis is traced: its trace events are kept
 * under the request id (./TraceStore.ts, `GET /v1/traces/{id}`), timed per
 * stage in the metrics and made into `synthesis.<stage>` spans.
 *
 * @since 0.1.0
 */
import { ByteSize, Cause, Effect, Exit, Metric, Sink, Stream } from "effect"
import { Schema } from "effect"
import { HttpIncomingMessage, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { AudioChunk, BarkEngine, SynthesisOptions, SynthesisProgress } from "../bark/engine/BarkEngine.ts"
import { SynthesisError } from "../bark/engine/BarkEngine.ts"
import type { Admission } from "./Admission.ts"
import { ApiError, badRequest, respond } from "./ApiError.ts"
import { concatBytes } from "../files/bytes.ts"
import * as Audio from "../audio/pcm.ts"
import * as Encoders from "../audio/encoders.ts"
import * as JobRoutes from "./jobRoutes.ts"
import type { SpeechFormat } from "../audio/encoders.ts"
import type { MemoryMonitor } from "./MemoryMonitor.ts"
import * as Metrics from "./Metrics.ts"
import * as ProgressSpans from "../observability/progressSpans.ts"
import * as StageMetrics from "../observability/stageMetrics.ts"
import * as StageSpans from "../observability/stageSpans.ts"
import * as SynthesisTrace from "../observability/synthesisTrace.ts"
import * as RequestId from "./requestId.ts"
import * as Speed from "../audio/speed.ts"
import { resolveVoice } from "./openaiVoices.ts"
import { SpeechRequest, SynthesizeRequest } from "./schemas.ts"
import type { ServerStateShape } from "./ServerState.ts"
import type { ServerSettings } from "./settings.ts"
import * as TraceRoutes from "./traceRoutes.ts"
import type { TraceStore } from "./TraceStore.ts"

export interface RouteDeps {
  readonly settings: ServerSettings
  readonly state: ServerStateShape
  readonly admission: Admission
  readonly memory: MemoryMonitor
  readonly traces: TraceStore
}

type Engine = BarkEngine["Service"]


const routeList = [
  "POST /v1/audio/speech",
  "GET /v1/models",
  "GET /v1/models/{id}",
  "GET /v1/audio/voices",
  "POST /synthesize",
  "POST /v1/jobs",
  "GET /v1/jobs",
  "GET /v1/jobs/{id}",
  "GET /v1/jobs/{id}/audio",
  "GET /v1/jobs/{id}/trace",
  "DELETE /v1/jobs/{id}",
  "GET /v1/voices",
  "GET /v1/traces/{id}",
  "GET /health/live",
  "GET /health/ready",
  "GET /health",
  "GET /metrics"
]

const tagOf: Readonly<Record<string, string>> = {
  "invalid-input": "InvalidInput",
  "unknown-voice": "UnknownVoice",
  "invalid-voice": "InvalidVoice"
}

/** A synthesis error as an API error: the caller's mistakes are 400, the rest 500. */
const fromSynthesisError = (e: SynthesisError): ApiError => {
  const tag = tagOf[e.reason]
  return new ApiError({
    status: tag === undefined ? 500 : 400,
    tag: tag ?? "SynthesisFailed",
    message: e.message,
    remediation: e.remediation,
    ...(e.reason === "unknown-voice" || e.reason === "invalid-voice" ? { param: "voice" } : {})
  })
}

const isSpeechFormat = (format: string): format is SpeechFormat => (Encoders.SPEECH_FORMATS as ReadonlyArray<string>).includes(format)

/** A format this server lacks the optional encoder of: a 400 naming the others; an encoder that failed: the service's fault, a 500. */
const encoderFailed = (e: Encoders.EncoderError | Encoders.EncoderUnavailable) =>
  e._tag === "EncoderUnavailable"
    ? badRequest("FormatUnavailable", e.message, e.remediation, "response_format")
    : new ApiError({ status: 500, tag: "EncodingFailed", message: e.message, remediation: "retry with response_format wav or pcm, and report the message" })

/** The names `GET /v1/models` lists besides the loaded model's own: OpenAI's speech models, all served by it. */
export const MODEL_ALIASES = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"] as const

/** Seconds since the epoch at which the models were listed as created: when this process started. */
const created = Math.floor((Date.now() - performance.now()) / 1000)

/**
 * Records tokens and tokens per second per generation stage from an engine's
 * progress reports. A stage runs from the previous stage's last report to
 * its own last one, so engines that report per token and engines that report
 * once per stage are both measured right.
 */
const progressMeter = () => {
  let current: { readonly key: string; readonly stage: string; readonly start: number; done: number; last: number } | undefined
  let boundary = performance.now()
  const finish = Effect.suspend(() => {
    if (current === undefined) return Effect.void
    const { stage, done, start, last } = current
    boundary = last
    current = undefined
    const seconds = (last - start) / 1000
    return Effect.all([
      Metric.update(Metric.withAttributes(Metrics.tokens, { stage }), done),
      seconds > 0 && done > 0
        ? Metric.update(Metric.withAttributes(Metrics.tokensPerSecond, { stage }), done / seconds)
        : Effect.void
    ], { discard: true })
  })
  const onProgress = (p: SynthesisProgress) =>
    Effect.suspend(() => {
      const now = performance.now()
      const batch = p.batch === undefined ? Effect.void : Metric.update(Metrics.batchSize, p.batch)
      const key = `${p.chunk}/${p.stage}`
      if (current !== undefined && current.key === key) {
        current.done = p.done
        current.last = now
        return batch
      }
      return finish.pipe(
        Effect.andThen(Effect.sync(() => {
          current = { key, stage: p.stage, start: boundary, done: p.done, last: now }
        })),
        Effect.andThen(batch)
      )
    })
  return { onProgress, finish }
}

const outcome = (exit: Exit.Exit<unknown, unknown>) =>
  Metrics.countGeneration(
    Exit.isSuccess(exit) ? "completed" : Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed"
  )

/**
 * The request's synthesis, traced: one `onTrace` that keeps the events
 * under the request id, times the stages and makes their spans; `end`
 * with the synthesis's exit closes the trace.
 */
const traced = Effect.gen(function*() {
  const recorder = (yield* RequestId.CurrentRequest).trace()
  const spans = yield* StageSpans.make
  return {
    onTrace: SynthesisTrace.combine(recorder.onTrace, StageMetrics.record, spans.onTrace),
    end: (exit: Exit.Exit<unknown, unknown>) => Effect.andThen(spans.end(exit), recorder.finish(exit))
  }
})

export const make = (deps: RouteDeps) => {
  const { settings, state, admission, memory, traces } = deps

  const readBody = <A>(schema: Schema.ConstraintDecoder<A, never>, limitBytes = settings.maxBodyBytes) =>
    HttpServerRequest.schemaBodyJson(schema, { errors: "all" }).pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(limitBytes)),
      Effect.catchTags({
        SchemaError: (e) =>
          Effect.fail(badRequest("InvalidRequest", `invalid request body: ${e.message}`, "fix the fields named above (see docs/service.md for the body schema)")),
        HttpServerError: (e) =>
          Effect.fail(
            e.reason._tag === "RequestParseError" && e.reason.reason === "BodyTooLarge"
              ? new ApiError({
                status: 413,
                tag: "BodyTooLarge",
                message: `the request body is larger than ${limitBytes} bytes (BARK_MAX_BODY_BYTES; for jobs, from BARK_JOB_MAX_TEXT_CHARS)`,
                remediation: "send a shorter text, or raise BARK_MAX_BODY_BYTES (BARK_JOB_MAX_TEXT_CHARS for jobs)"
              })
              : badRequest("InvalidJson", `the request body is not valid JSON: ${e.message}`, "send a JSON object with Content-Type: application/json")
          )
      })
    )

  /** The text to speak, from the body field `field`. */
  const checkText = (text: string, field: string) =>
    text.trim() === ""
      ? Effect.fail(badRequest("InvalidInput", "the text is empty", "give some text to speak", field))
      : text.length > settings.maxTextChars
      ? Effect.fail(badRequest(
        "TextTooLong",
        `the text has ${text.length} characters, more than the limit of ${settings.maxTextChars} (BARK_MAX_TEXT_CHARS)`,
        "split the text into several requests, or raise BARK_MAX_TEXT_CHARS",
        field
      ))
      : Effect.void

  /** The engine, if the service is ready and not shedding load. */
  const readyEngine = Effect.suspend(() => {
    const readiness = state.readiness()
    const engine = state.engine()
    if (!readiness.ready || engine === undefined) {
      return Effect.fail(new ApiError({
        status: 503,
        tag: readiness.status === "draining" ? "ShuttingDown" : "NotReady",
        message: `the service is not ready: ${readiness.reason}`,
        remediation: readiness.status === "draining"
          ? "send the request to another replica"
          : "wait until GET /health/ready answers 200 (its body shows the startup report), then retry",
        headers: { "retry-after": "5" }
      }))
    }
    if (memory.level() === "shedding") {
      return Effect.fail(new ApiError({
        status: 503,
        tag: "MemoryPressure",
        message: `memory use ${Math.round(memory.rssMb())} MB is above BARK_MEMORY_SHED_SHARE of the ${memory.limitMb} MB memory budget (${memory.budgetSource})`,
        remediation: "retry later or on another replica; lower BARK_MAX_CONCURRENCY or give the service more memory",
        headers: { "retry-after": "10" }
      }))
    }
    return Effect.succeed(engine)
  })

  /** Takes a generation slot for the rest of the request and records how long the request waited for it. */
  const admit = Effect.gen(function*() {
    const t0 = performance.now()
    yield* admission.acquire
    yield* Metric.update(Metrics.queueSeconds, (performance.now() - t0) / 1000)
    return performance.now()
  })

  const recordAudio = (samples: number, sampleRate: number) => Metric.update(Metrics.audioSeconds, samples / sampleRate)

  /** A whole synthesis, in a slot, metered. */
  const synthesize = (engine: Engine, text: string, options: SynthesisOptions) =>
    Effect.gen(function*() {
      const started = yield* admit
      const meter = progressMeter()
      const spans = yield* ProgressSpans.make
      const trace = yield* traced
      const result = yield* engine.synthesize(text, {
        ...options,
        onProgress: ProgressSpans.both(meter.onProgress, spans.onProgress),
        onTrace: trace.onTrace
      }).pipe(
        Effect.onExit((exit) => Effect.all([spans.end(exit), trace.end(exit), outcome(exit)], { discard: true })),
        Effect.mapError(fromSynthesisError)
      )
      yield* meter.finish
      yield* Metric.update(Metrics.synthesisSeconds, (performance.now() - started) / 1000)
      yield* recordAudio(result.audio.length, result.sampleRate)
      return result
    })

  /**
   * A streamed synthesis, as its chunks of audio: the first chunk is generated
   * before the response starts, so that input errors still get their status;
   * later errors can only cut the stream short.
   */
  const synthesizeStream = (engine: Engine, text: string, options: SynthesisOptions) =>
    Effect.gen(function*() {
      const started = yield* admit
      const meter = progressMeter()
      const trace = yield* traced
      const chunks = engine.stream(text, { ...options, onProgress: meter.onProgress, onTrace: trace.onTrace }).pipe(
        Stream.tap((chunk: AudioChunk) => recordAudio(chunk.audio.length, chunk.sampleRate)),
        Stream.onExit((exit) =>
          outcome(exit).pipe(
            Effect.andThen(meter.finish),
            Effect.andThen(Metric.update(Metrics.synthesisSeconds, (performance.now() - started) / 1000)),
            Effect.andThen(trace.end(exit))
          )
        )
      )
      const [first, rest] = yield* Stream.peel(chunks, Sink.take<AudioChunk>(1)).pipe(Effect.mapError(fromSynthesisError))
      return Stream.concat(Stream.fromIterable(first), rest)
    })

  /**
   * The audio of `chunks` at `speed` through a streaming `format` encoder:
   * its bytes as each chunk yields them, then the rest.
   */
  const encodedStream = (chunks: Stream.Stream<AudioChunk, SynthesisError>, format: SpeechFormat, sampleRate: number, speed: number) =>
    Effect.map(Encoders.encoder(format, sampleRate, true).pipe(Effect.mapError(encoderFailed)), (encoder) => {
      const stretcher = Speed.stretcher(speed)
      return chunks.pipe(
        Stream.mapEffect((chunk) => Effect.promise(() => encoder.encode(stretcher.push(chunk.audio)))),
        Stream.concat(Stream.fromEffect(Effect.promise(async () => {
          const stretched = stretcher.end()
          return concatBytes([stretched.length > 0 ? await encoder.encode(stretched) : new Uint8Array(0), await encoder.flush()])
        }))),
        Stream.filter((bytes) => bytes.length > 0),
        Stream.ensuring(Effect.sync(() => encoder.free()))
      )
    })

  const speech = Effect.gen(function*() {
    const engine = yield* readyEngine
    const body = yield* readBody(SpeechRequest)
    const format = body.response_format ?? "mp3"
    if (!isSpeechFormat(format)) {
      return yield* badRequest(
        "UnsupportedFormat",
        `response_format "${format}" is not supported`,
        `use one of ${Encoders.SPEECH_FORMATS.join(", ")} (pcm: raw 16-bit little-endian mono at ${engine.sampleRate} Hz)`,
        "response_format"
      )
    }
    yield* Encoders.available(format).pipe(Effect.mapError(encoderFailed))
    const speed = body.speed ?? 1
    if (!(speed >= Speed.MIN_SPEED && speed <= Speed.MAX_SPEED)) {
      return yield* badRequest(
        "InvalidSpeed",
        `speed ${speed} is outside ${Speed.MIN_SPEED}..${Speed.MAX_SPEED}`,
        `send a speed from ${Speed.MIN_SPEED} to ${Speed.MAX_SPEED} (1, the default, is Bark's own pace)`,
        "speed"
      )
    }
    const streamFormat = body.stream_format
    if (streamFormat !== undefined && streamFormat !== "audio" && streamFormat !== "sse") {
      return yield* badRequest("InvalidRequest", `stream_format "${streamFormat}" is not supported`, `use "audio" or "sse", or omit it`, "stream_format")
    }
    yield* checkText(body.input, "input")
    const voice = body.voice === undefined ? undefined : resolveVoice(settings.voiceMap, body.voice)
    const options: SynthesisOptions = voice === undefined ? {} : { voice }
    const type = Encoders.contentType(format, engine.sampleRate)
    if (streamFormat === undefined) {
      const result = yield* synthesize(engine, body.input, options)
      const audio = Speed.stretch(result.audio, speed)
      const bytes = yield* Encoders.encodeWhole(format, audio, result.sampleRate).pipe(Effect.mapError(encoderFailed))
      return HttpServerResponse.uint8Array(bytes, { contentType: type })
    }
    const audio = yield* encodedStream(yield* synthesizeStream(engine, body.input, options), format, engine.sampleRate, speed)
    if (streamFormat === "audio") return HttpServerResponse.stream(audio, { contentType: type, headers: { "cache-control": "no-store" } })
    // Server-sent events as OpenAI sends them: each delta's audio in base64, then a done event.
    const event = (value: unknown) => new TextEncoder().encode(`data: ${JSON.stringify(value)}\n\n`)
    const events = audio.pipe(
      Stream.map((bytes) => event({ type: "speech.audio.delta", audio: Buffer.from(bytes).toString("base64") })),
      Stream.concat(Stream.make(event({ type: "speech.audio.done" })))
    )
    return HttpServerResponse.stream(events, { contentType: "text/event-stream", headers: { "cache-control": "no-store" } })
  })

  const native = Effect.gen(function*() {
    const engine = yield* readyEngine
    const body = yield* readBody(SynthesizeRequest)
    yield* checkText(body.text, "text")
    const options: SynthesisOptions = {
      ...(body.voice === undefined ? {} : { voice: body.voice }),
      ...(body.seed === undefined ? {} : { seed: body.seed }),
      ...(body.temperatures === undefined ? {} : { temperatures: body.temperatures })
    }
    if (body.stream === true) {
      const chunks = yield* synthesizeStream(engine, body.text, options)
      const pcm = chunks.pipe(
        Stream.map((chunk) => Audio.pcm(chunk.audio)),
        Stream.prepend([Audio.streamingWavHeader(engine.sampleRate)])
      )
      return HttpServerResponse.stream(pcm, {
        contentType: "audio/wav",
        headers: { "x-audio-format": `s16le; rate=${engine.sampleRate}; channels=1`, "cache-control": "no-store" }
      })
    }
    const result = yield* synthesize(engine, body.text, options)
    return HttpServerResponse.uint8Array(Audio.wav(result.audio, result.sampleRate), {
      contentType: "audio/wav",
      headers: {
        "x-audio-chunks": String(result.chunks.length),
        ...(result.seed === undefined ? {} : { "x-seed": String(result.seed) })
      }
    })
  })

  /** The engine's voices, and the OpenAI names that map to one of them. */
  const voices = Effect.map(readyEngine, (engine) =>
    HttpServerResponse.jsonUnsafe({
      engine: engine.kind,
      sampleRate: engine.sampleRate,
      voices: engine.voices,
      aliases: Object.fromEntries(Object.entries(settings.voiceMap).filter(([, preset]) => engine.voices.includes(preset)))
    }))

  /** OpenAI's model object for each name the speech route serves. */
  const modelList = (engine: Engine) =>
    [...new Set([engine.model ?? `bark-pipeline/${engine.kind}`, ...MODEL_ALIASES])].map((id) => ({
      id,
      object: "model",
      created,
      owned_by: "bark-pipeline"
    }))

  const models = Effect.map(readyEngine, (engine) => HttpServerResponse.jsonUnsafe({ object: "list", data: modelList(engine) }))

  const model = Effect.gen(function*() {
    const engine = yield* readyEngine
    const id = (yield* HttpRouter.params)["id"] ?? ""
    const found = modelList(engine).find((m) => m.id === id)
    if (found === undefined) {
      return yield* new ApiError({
        status: 404,
        tag: "ModelNotFound",
        message: `the model "${id}" does not exist here`,
        remediation: `use one of: ${modelList(engine).map((m) => m.id).join(", ")} (GET /v1/models)`,
        param: "model"
      })
    }
    return HttpServerResponse.jsonUnsafe(found)
  })

  const live = Effect.succeed(HttpServerResponse.jsonUnsafe({ status: "alive" }))

  const ready = Effect.sync(() => {
    const readiness = state.readiness()
    return HttpServerResponse.jsonUnsafe(
      { ...readiness, policy: state.policy(), report: state.report() },
      { status: readiness.ready ? 200 : 503 }
    )
  })

  const health = Effect.sync(() => {
    const readiness = state.readiness()
    const level = memory.level()
    const status = readiness.status === "ready" && level !== "ok" ? "degraded" : readiness.status
    const flags = memory.flags()
    const growthMb = memory.growthMb()
    return HttpServerResponse.jsonUnsafe({
      status,
      ready: readiness.ready,
      reason: readiness.reason,
      engine: state.engine()?.kind ?? null,
      dtype: state.engine()?.dtype ?? null,
      memory: {
        level,
        rssMb: Math.round(memory.rssMb()),
        limitMb: memory.limitMb,
        budgetSource: memory.budgetSource,
        growthMb: growthMb === undefined ? null : Math.round(growthMb)
      },
      // Each flag true while up; `alerts` says why, for people.
      flags: Object.fromEntries(Object.entries(flags).map(([name, message]) => [name, message !== undefined])),
      alerts: Object.values(flags).filter((message) => message !== undefined),
      queue: {
        queued: admission.queued(),
        inFlight: admission.inFlight(),
        maxQueue: settings.maxQueue,
        maxConcurrency: settings.maxConcurrency
      },
      jobs: jobsHealth(),
      uptimeS: Math.round(process.uptime())
    })
  })

  const jobRoutes = JobRoutes.make({ state, readJson: (limitBytes) => readBody(Schema.Unknown, limitBytes) })
  const traceRoutes = TraceRoutes.make(traces)

  /** The job queue as /health shows it. */
  const jobsHealth = () => {
    const jobs = state.jobs()
    if (jobs === undefined) return { available: false, reason: "no job queue on this replica (BARK_JOBS=off)" }
    const connected = jobs.queue.connected()
    return {
      available: connected,
      reason: connected ? "connected" : jobs.queue.unavailableReason() ?? "Redis does not answer",
      redis: jobs.queue.settings.redisUrl,
      queue: jobs.queue.settings.queue,
      worker: jobs.worker === undefined ? null : { active: jobs.worker.active(), concurrency: jobs.queue.settings.concurrency }
    }
  }

  /** The queue's counts into the `bark_jobs{state}` gauges, when Redis answers. */
  const sampleJobs = Effect.gen(function*() {
    const jobs = state.jobs()
    if (jobs === undefined) return
    yield* Metric.update(Metrics.jobsAvailable, jobs.queue.connected() ? 1 : 0)
    const counts = yield* Effect.option(jobs.queue.counts)
    if (counts._tag === "None") return
    for (const [name, value] of Object.entries(counts.value)) {
      yield* Metric.update(Metric.withAttributes(Metrics.jobs, { state: name }), value)
    }
  })

  const metrics = Effect.gen(function*() {
    yield* sampleJobs
    yield* Metrics.sampleMemory
    yield* Metric.update(Metrics.queueSize, admission.queued())
    yield* Metric.update(Metrics.inFlight, admission.inFlight())
    const text = yield* Metrics.render
    return HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
  })

  const notFound = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    return yield* new ApiError({
      status: 404,
      tag: "NotFound",
      message: `no route ${request.method} ${request.url}`,
      remediation: `use one of: ${routeList.join(", ")}`
    })
  })

  /**
   * Answers errors as JSON, counts every response and gives it the request's
   * `x-request-id` (the request's logs and span carry it too). Interrupted
   * requests (client gone) answer nothing.
   */
  const handle = <R>(route: string, handler: Effect.Effect<HttpServerResponse.HttpServerResponse, ApiError, R>) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const id = RequestId.fromHeader(request.headers[RequestId.HEADER])
      yield* Effect.annotateCurrentSpan("bark.request_id", id)
      let recorder: SynthesisTrace.Recorder | undefined
      const current = RequestId.CurrentRequest.of({ id, route, trace: () => (recorder ??= traces.begin(id, route)) })
      const response = yield* respondTo(route, handler.pipe(Effect.provideService(RequestId.CurrentRequest, current))).pipe(
        Effect.annotateLogs("requestId", id)
      )
      recorder?.setStatus(response.status)
      return HttpServerResponse.setHeader(response, RequestId.HEADER, id)
    })

  /** The handler's response, or its error as JSON; counted. */
  const respondTo = <R>(route: string, handler: Effect.Effect<HttpServerResponse.HttpServerResponse, ApiError, R>) =>
    handler.pipe(
      Effect.map((response) => ({ response, tag: undefined as string | undefined })),
      Effect.catchTag("ApiError", (e) => Effect.succeed({ response: respond(e), tag: e.tag })),
      Effect.catchCause((cause) => {
        if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
        const error = new ApiError({
          status: 500,
          tag: "InternalError",
          message: `the request failed unexpectedly: ${Cause.pretty(cause).split("\n")[0]}`,
          remediation: "this is a bug in the service; report it with the server log"
        })
        return Effect.logError("request failed", cause).pipe(Effect.as({ response: respond(error), tag: error.tag }))
      }),
      Effect.tap(({ response, tag }) => Metrics.countResponse(route, response.status, tag)),
      Effect.map(({ response }) => response)
    )

  return HttpRouter.use(Effect.fn(function*(router) {
    yield* router.add("POST", "/v1/audio/speech", handle("/v1/audio/speech", speech))
    yield* router.add("POST", "/synthesize", handle("/synthesize", native))
    yield* router.add("GET", "/v1/voices", handle("/v1/voices", voices))
    yield* router.add("GET", "/v1/audio/voices", handle("/v1/audio/voices", voices))
    yield* router.add("GET", "/v1/models", handle("/v1/models", models))
    yield* router.add("GET", "/v1/models/:id", handle("/v1/models/{id}", model))
    yield* router.add("POST", "/v1/jobs", handle("/v1/jobs", jobRoutes.create))
    yield* router.add("GET", "/v1/jobs", handle("/v1/jobs", jobRoutes.list))
    yield* router.add("GET", "/v1/jobs/:id", handle("/v1/jobs/{id}", jobRoutes.read))
    yield* router.add("GET", "/v1/jobs/:id/audio", handle("/v1/jobs/{id}/audio", jobRoutes.audio))
    yield* router.add("GET", "/v1/jobs/:id/trace", handle("/v1/jobs/{id}/trace", jobRoutes.trace))
    yield* router.add("DELETE", "/v1/jobs/:id", handle("/v1/jobs/{id}", jobRoutes.cancel))
    yield* router.add("GET", "/v1/traces/:id", handle("/v1/traces/{id}", traceRoutes.read))
    yield* router.add("GET", "/health/live", handle("/health/live", live))
    yield* router.add("GET", "/health/ready", handle("/health/ready", ready))
    yield* router.add("GET", "/health", handle("/health", health))
    yield* router.add("GET", "/metrics", handle("/metrics", metrics))
    yield* router.add("*", "*", handle("other", notFound))
  }))
}
