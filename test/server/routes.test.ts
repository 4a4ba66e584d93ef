import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import { decodeWav } from "../../src/audio/wav.ts"
import { json, metrics, postJson, startServer, type TestServer } from "./support.ts"

const wavOf = async (response: Response) => Effect.runSync(decodeWav(new Uint8Array(await response.arrayBuffer())))

describe("synthesis service routes (mock profile)", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ BARK_MAX_TEXT_CHARS: "400", BARK_MAX_BODY_BYTES: "1024" })
  })
  afterAll(() => server.close())

  it("answers liveness, readiness with the startup report, health and voices", async () => {
    expect(await json(await fetch(`${server.url}/health/live`))).toEqual({ status: "alive" })

    const ready = await fetch(`${server.url}/health/ready`)
    expect(ready.status).toBe(200)
    const body = await json(ready)
    expect(body.status).toBe("ready")
    expect(body.report.results.map((r: { stage: string }) => r.stage)).toEqual(["listen", "jobs", "environment", "cache-dirs", "mock-engine", "serve"])

    const health = await json(await fetch(`${server.url}/health`))
    expect(health.engine).toBe("mock")
    expect(health.memory.level).toBe("ok")
    expect(health.queue).toMatchObject({ queued: 0, inFlight: 0, maxQueue: 16, maxConcurrency: 1 })

    const voices = await json(await fetch(`${server.url}/v1/voices`))
    expect(voices.voices).toContain("announcer")
    expect(voices.voices).toContain("v2/zh_speaker_9")
    expect(voices.voices).toContain("de_speaker_0")
  })

  it("POST /synthesize returns a 24 kHz mono WAV, the same for the same seed and voice", async () => {
    const request = { text: "Hello there. This is a mock.", voice: "v2/en_speaker_6", seed: 7 }
    const first = await postJson(`${server.url}/synthesize`, request)
    expect(first.status).toBe(200)
    expect(first.headers.get("content-type")).toBe("audio/wav")
    const a = await wavOf(first)
    expect(a.sampleRate).toBe(24_000)
    expect(a.channels).toBe(1)
    expect(a.samples.length).toBeGreaterThan(24_000)
    const again = await wavOf(await postJson(`${server.url}/synthesize`, request))
    expect(again.samples).toEqual(a.samples)
    const otherVoice = await wavOf(await postJson(`${server.url}/synthesize`, { ...request, voice: "announcer" }))
    expect(otherVoice.samples).not.toEqual(a.samples)
  })

  it("POST /synthesize with stream: true sends a WAV stream whose PCM equals the whole synthesis", async () => {
    const text = `First sentence. ${"word ".repeat(50)}end. Last one.`
    const whole = await wavOf(await postJson(`${server.url}/synthesize`, { text, seed: 1 }))
    const streamed = await postJson(`${server.url}/synthesize`, { text, seed: 1, stream: true })
    expect(streamed.status).toBe(200)
    expect(streamed.headers.get("x-audio-format")).toBe("s16le; rate=24000; channels=1")
    const bytes = new Uint8Array(await streamed.arrayBuffer())
    const view = new DataView(bytes.buffer)
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("RIFF")
    expect(view.getUint32(4, true)).toBe(0xffff_ffff)
    expect(view.getUint32(40, true)).toBe(0xffff_ffff)
    // with the sizes filled in, the stream is an ordinary WAV file
    view.setUint32(4, bytes.length - 8, true)
    view.setUint32(40, bytes.length - 44, true)
    const decoded = Effect.runSync(decodeWav(bytes))
    expect(decoded.samples).toEqual(whole.samples)
  })

  it("POST /v1/audio/speech answers wav and pcm (s16le at 24 kHz, the same samples) and 400 for unknown formats or speeds out of range", async () => {
    const body = { model: "tts-1", input: "Hi there, friend.", voice: "announcer" }
    const wav = await postJson(`${server.url}/v1/audio/speech`, { ...body, response_format: "wav" })
    expect(wav.status).toBe(200)
    const decoded = await wavOf(wav)
    const pcm = await postJson(`${server.url}/v1/audio/speech`, { ...body, response_format: "pcm" })
    expect(pcm.headers.get("content-type")).toBe("audio/pcm;rate=24000")
    const raw = new Int16Array(await pcm.arrayBuffer())
    expect(raw.length).toBe(decoded.samples.length)
    expect(raw[100]! / 32768).toBeCloseTo(decoded.samples[100]!, 4)

    const ogg = await postJson(`${server.url}/v1/audio/speech`, { ...body, response_format: "ogg" })
    expect(ogg.status).toBe(400)
    const error = (await json(ogg)).error
    expect(error.tag).toBe("UnsupportedFormat")
    expect(error.remediation).toContain("mp3, opus, aac, flac, wav, pcm")
    const tooFast = await postJson(`${server.url}/v1/audio/speech`, { ...body, speed: 4.5 })
    expect(tooFast.status).toBe(400)
    expect((await json(tooFast)).error.tag).toBe("InvalidSpeed")
  })

  it("answers every error as JSON with a tag, a message and what to do", async () => {
    const cases: ReadonlyArray<readonly [Promise<Response>, number, string]> = [
      [postJson(`${server.url}/synthesize`, { txt: "typo" }), 400, "InvalidRequest"],
      [postJson(`${server.url}/synthesize`, { text: "hi", seed: "seven" }), 400, "InvalidRequest"],
      [fetch(`${server.url}/synthesize`, { method: "POST", body: "{not json" }), 400, "InvalidJson"],
      [postJson(`${server.url}/synthesize`, { text: "  " }), 400, "InvalidInput"],
      [postJson(`${server.url}/synthesize`, { text: "hello", voice: "v2/xx_speaker_1" }), 400, "UnknownVoice"],
      [postJson(`${server.url}/synthesize`, { text: "word ".repeat(100) }), 400, "TextTooLong"],
      [postJson(`${server.url}/synthesize`, { text: "x".repeat(2000) }), 413, "BodyTooLarge"],
      [postJson(`${server.url}/synthesize`, { text: "hi", temperatures: { semantic: -1 } }), 400, "InvalidInput"],
      [fetch(`${server.url}/no/such/route`), 404, "NotFound"]
    ]
    for (const [pending, status, tag] of cases) {
      const response = await pending
      const body = await json(response)
      expect({ status: response.status, tag: body.error.tag }).toEqual({ status, tag })
      expect(body.error.message.length).toBeGreaterThan(0)
      expect(body.error.remediation.length).toBeGreaterThan(0)
    }
    const unknownVoice = await postJson(`${server.url}/synthesize`, { text: "hello", voice: "bob" })
    expect((await json(unknownVoice)).error.remediation).toContain("v2/{lang}_speaker_{0..9}")
    // the service is still fine afterwards
    expect((await postJson(`${server.url}/synthesize`, { text: "still here" })).status).toBe(200)
  })

  it("serves Prometheus text whose counters move", async () => {
    const before = await metrics(server.url)
    const key = `bark_requests_total{route="/synthesize",status="200"}`
    await postJson(`${server.url}/synthesize`, { text: "count me" })
    await postJson(`${server.url}/synthesize`, { text: "x", voice: "nobody" })
    const after = await metrics(server.url)
    expect(after.get(key)).toBe((before.get(key) ?? 0) + 1)
    expect(after.get(`bark_errors_total{tag="UnknownVoice"}`)).toBe((before.get(`bark_errors_total{tag="UnknownVoice"}`) ?? 0) + 1)
    expect(after.get("bark_audio_seconds_total")!).toBeGreaterThan(before.get("bark_audio_seconds_total")!)
    expect(after.get(`bark_generations_total{outcome="completed"}`)).toBe(before.get(`bark_generations_total{outcome="completed"}`)! + 1)
    expect(after.get("bark_synthesis_duration_seconds_count")).toBe(before.get("bark_synthesis_duration_seconds_count")! + 1)
    expect(after.get("bark_process_resident_memory_bytes")!).toBeGreaterThan(10 * 2 ** 20)
    expect(after.get("bark_ready")).toBe(1)
    expect(after.get("bark_rejected_total")).toBe(0)
    expect(after.get(`bark_model_load_seconds{stage="mock-engine"}`)).toBeGreaterThanOrEqual(0)
    expect(after.get(`bark_tokens_generated_total{stage="semantic"}`)!).toBeGreaterThan(0)
    expect(after.has(`bark_tokens_per_second{stage="fine"}`)).toBe(true)
    expect(after.get("bark_queue_size")).toBe(0)
    // Per synthesis stage, from the request's trace (the failed voice lookup too); the audio-cache series exist from the start.
    const stage = (name: string, outcome: string) => `bark_synthesis_stage_seconds_count{stage="${name}",outcome="${outcome}"}`
    expect(after.get(stage("mock-audio", "succeeded"))).toBe((before.get(stage("mock-audio", "succeeded")) ?? 0) + 1)
    expect(after.get(stage("voice", "failed"))).toBe((before.get(stage("voice", "failed")) ?? 0) + 1)
    expect(after.get(`bark_audio_cache_total{result="hit"}`)).toBe(0)
    expect(after.get(`bark_audio_cache_total{result="miss"}`)).toBe(0)
  })
})
