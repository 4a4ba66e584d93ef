/**
 * Every `response_format` of OpenAI's speech API through OpenAI's official
 * client, each decoded back by an independent decoder from npm (mpg123 for
 * mp3, libopus for Ogg Opus, libFLAC for flac, FAAD2 for aac): the sample
 * rate, the duration within a few codec frames of the WAV's, and audio that is
 * not silence. Streaming (`stream_format: "audio"` and `"sse"`) delivers its
 * first bytes while later chunks are still being generated. The mock engine
 * serves, with a latency per long-form chunk.
 */
import decodeAac from "@audio/decode-aac"
import { FLACDecoder } from "@wasm-audio-decoders/flac"
import { Effect } from "effect"
import { MPEGDecoder } from "mpg123-decoder"
import OpenAI from "openai"
import { OggOpusDecoder } from "ogg-opus-decoder"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { decodeWav } from "../../src/audio/wav.ts"
import { startServer, type TestServer } from "./support.ts"

let server: TestServer
let client: OpenAI

const LATENCY_MS = 300
const TEXT = "Hello from the speech formats test."
const LONG = "This sentence has exactly ten words in it, no more. ".repeat(10) // three long-form chunks

beforeAll(async () => {
  server = await startServer({ BARK_MOCK_LATENCY_MS: String(LATENCY_MS) })
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 })
})
afterAll(() => server.close())

type Format = "mp3" | "opus" | "aac" | "flac" | "wav" | "pcm"

const speak = async (format: Format | undefined, input = TEXT) => {
  const response = await client.audio.speech.create({
    model: "tts-1",
    voice: "alloy",
    input,
    ...(format === undefined ? {} : { response_format: format })
  })
  return { type: response.headers.get("content-type"), bytes: new Uint8Array(await response.arrayBuffer()) }
}

/** Decodes with the format's own decoder: the first channel and its rate. */
const decode = async (format: Format, bytes: Uint8Array): Promise<{ readonly samples: Float32Array; readonly sampleRate: number }> => {
  switch (format) {
    case "mp3": {
      const d = new MPEGDecoder()
      await d.ready
      const out = d.decode(bytes)
      d.free()
      return { samples: out.channelData[0]!, sampleRate: out.sampleRate }
    }
    case "opus": {
      const d = new OggOpusDecoder()
      await d.ready
      const out = await d.decodeFile(bytes)
      d.free()
      return { samples: out.channelData[0]!, sampleRate: out.sampleRate }
    }
    case "flac": {
      const d = new FLACDecoder()
      await d.ready
      const out = await d.decodeFile(bytes)
      d.free()
      return { samples: out.channelData[0]!, sampleRate: out.sampleRate }
    }
    case "aac": {
      const out = await decodeAac(bytes)
      return { samples: out.channelData[0]!, sampleRate: out.sampleRate }
    }
    case "wav": {
      const wav = await Effect.runPromise(decodeWav(bytes))
      return { samples: wav.samples, sampleRate: wav.sampleRate }
    }
    case "pcm": {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      return { samples: Float32Array.from({ length: bytes.length / 2 }, (_, i) => view.getInt16(2 * i, true) / 32768), sampleRate: 24_000 }
    }
  }
}

const rms = (x: Float32Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length)

/**
 * Seconds a decoded duration may differ by: a few codec frames and the
 * encoder's delay and padding (LAME's MPEG-2 frames are 576 samples, Opus's
 * 20 ms, AAC's 1024 samples); FLAC, WAV and PCM are exact.
 */
const tolerance: Record<Format, number> = { mp3: 0.1, opus: 0.1, aac: 0.15, flac: 0.001, wav: 0, pcm: 0 }
const contentTypes: Record<Format, string> = {
  mp3: "audio/mpeg",
  opus: "audio/opus",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
  pcm: "audio/pcm;rate=24000"
}

let reference: { readonly seconds: number }

describe("response_format", () => {
  beforeAll(async () => {
    const wav = await decode("wav", (await speak("wav")).bytes)
    reference = { seconds: wav.samples.length / wav.sampleRate }
  })

  it.each(["mp3", "opus", "aac", "flac", "wav", "pcm"] as const)("%s: OpenAI's content type, decoded by its own decoder to the same audio length, not silence", async (format) => {
    const { type, bytes } = await speak(format)
    expect(type).toBe(contentTypes[format])
    const audio = await decode(format, bytes)
    // Opus always decodes at 48 kHz; FAAD2 doubles AAC-LC at 24 kHz to 48 kHz (implicit SBR signalling).
    expect(audio.sampleRate).toBe(format === "opus" || format === "aac" ? 48_000 : 24_000)
    expect(Math.abs(audio.samples.length / audio.sampleRate - reference.seconds)).toBeLessThanOrEqual(tolerance[format] + 1e-9)
    expect(rms(audio.samples)).toBeGreaterThan(0.05)
  })

  it.each([0.5, 2])("speed %s: the same speech in 1/speed of the time, its pitch kept", async (speed) => {
    const response = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: TEXT, response_format: "wav", speed })
    const wav = await decode("wav", new Uint8Array(await response.arrayBuffer()))
    expect(wav.samples.length / wav.sampleRate).toBeCloseTo(reference.seconds / speed, 1)
    const normal = await decode("wav", (await speak("wav")).bytes)
    // The mock's audio is tones: the rate of upward zero crossings (its pitch) stays within 3 %.
    const crossings = (x: Float32Array) => x.reduce((n, v, i) => (i > 0 && x[i - 1]! < 0 && v >= 0 ? n + 1 : n), 0) / x.length
    expect(crossings(wav.samples) / crossings(normal.samples)).toBeCloseTo(1, 1)
  })

  it("is mp3 when absent, as OpenAI's default", async () => {
    const { type, bytes } = await speak(undefined)
    expect(type).toBe("audio/mpeg")
    expect((await decode("mp3", bytes)).samples.length).toBeGreaterThan(0)
  })
})

describe("streaming", () => {
  /** Reads a streamed body, noting when its first bytes and its end arrived. */
  const read = async (body: ReadableStream<Uint8Array>, started: number) => {
    const reader = body.getReader()
    const parts: Array<Uint8Array> = []
    let first = 0
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (first === 0) first = performance.now() - started
      parts.push(value)
    }
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0)
    return { bytes, first, end: performance.now() - started }
  }

  it.each(["mp3", "opus", "aac", "flac", "wav", "pcm"] as const)("stream_format audio, %s: the first bytes come while later chunks are generated", async (format) => {
    const started = performance.now()
    const response = await client.audio.speech.create({ model: "tts-1", voice: "nova", input: LONG, response_format: format, stream_format: "audio" })
    const { bytes, first, end } = await read(response.body!, started)
    // Two more chunks are generated after the first one's bytes; the AAC encoder hands its frames over one chunk late.
    expect(end - first).toBeGreaterThan(LATENCY_MS * (format === "aac" ? 0.5 : 1.5))
    const audio = await decode(format, bytes)
    expect(rms(audio.samples)).toBeGreaterThan(0.05)
  })

  it("stream_format sse: speech.audio.delta events carry the audio in base64, then speech.audio.done", async () => {
    const started = performance.now()
    const response = await client.audio.speech.create({ model: "tts-1", voice: "nova", input: LONG, response_format: "mp3", stream_format: "sse" })
    expect(response.headers.get("content-type")).toBe("text/event-stream")
    const { bytes, first, end } = await read(response.body!, started)
    expect(end - first).toBeGreaterThan(LATENCY_MS * 1.5)
    const events = new TextDecoder().decode(bytes).split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => JSON.parse(e.slice(6)))
    expect(events.at(-1)).toEqual({ type: "speech.audio.done" })
    const deltas = events.slice(0, -1)
    expect(deltas.length).toBeGreaterThan(1)
    expect(deltas.every((e) => e.type === "speech.audio.delta")).toBe(true)
    const mp3 = Buffer.concat(deltas.map((e) => Buffer.from(e.audio, "base64")))
    const audio = await decode("mp3", new Uint8Array(mp3))
    expect(audio.samples.length / audio.sampleRate).toBeGreaterThan(1)
  })

  it("streams at a speed other than 1 too", async () => {
    const response = await client.audio.speech.create({ model: "tts-1", voice: "nova", input: LONG, response_format: "pcm", stream_format: "audio", speed: 2 })
    const { bytes } = await read(response.body!, performance.now())
    const whole = await decode("pcm", (await speak("pcm", LONG)).bytes)
    expect(bytes.length / 2 / whole.samples.length).toBeCloseTo(0.5, 1)
  })

  it("refuses an unknown stream_format and a speed outside 0.25..4, naming the parameter", async () => {
    const bad = (await client.audio.speech.create({ model: "tts-1", voice: "nova", input: TEXT, stream_format: "ws" as "sse" }).catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.BadRequestError
    >
    expect(bad.param).toBe("stream_format")
    const fast = (await client.audio.speech.create({ model: "tts-1", voice: "nova", input: TEXT, speed: 5 }).catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.BadRequestError
    >
    expect(fast.param).toBe("speed")
    expect(fast.message).toContain("outside 0.25..4")
  })
})
