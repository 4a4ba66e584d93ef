/**
 * OpenAI's speech `response_format`s, each as a streaming encoder: `encode`
 * takes the next samples and returns the bytes ready so far, `flush` the
 * rest. Whole responses are one `encode` and a `flush`; streamed ones send
 * what each chunk of audio yields as soon as it is generated.
 *
 * | format | bytes | encoder |
 * |---|---|---|
 * | mp3 | MPEG-2 layer III, 64 kbit/s mono | LAME in WebAssembly (`@audio/encode-mp3`, via wasm-media-encoders) |
 * | opus | Ogg Opus, 32 kbit/s | libopus in WebAssembly (`@audio/encode-opus`, via opusscript) |
 * | aac | AAC-LC in ADTS, 64 kbit/s | FFmpeg's AAC encoder in WebAssembly (`@mediabunny/aac-encoder`) and mediabunny's ADTS muxer (./aac.ts); optional packages |
 * | flac | FLAC, 16-bit | libFLAC in WebAssembly (`@audio/encode-flac`, via libflacjs) |
 * | wav | 16-bit PCM WAV; streamed with an unknown-length header (./pcm.ts) | here |
 * | pcm | s16le mono at the engine's rate | here |
 *
 * All run in WebAssembly, no system binary. All but aac install with the
 * package; aac's two packages are optional peer dependencies, because
 * mediabunny brings the DOM's WebCodecs type packages into every consumer's
 * compilation: a server that has not installed them answers aac with
 * `EncoderUnavailable`, saying what to install. docs/service.md gives the
 * measured speed and size of each format.
 *
 * @since 0.3.0
 */
import mp3 from "@audio/encode-mp3"
import flac from "@audio/encode-flac"
import opus from "@audio/encode-opus"
import { Effect, Schema } from "effect"
import { concatBytes, concatFloat32 } from "../files/bytes.ts"
import * as Audio from "./pcm.ts"
import type { StreamingEncoder } from "./StreamingEncoder.ts"

export type { StreamingEncoder } from "./StreamingEncoder.ts"

export const SPEECH_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"] as const
export type SpeechFormat = typeof SPEECH_FORMATS[number]

/** OpenAI's content type of each format (pcm carries its rate). */
export const contentType = (format: SpeechFormat, sampleRate: number): string =>
  format === "pcm" ? Audio.pcmContentType(sampleRate) : {
    mp3: "audio/mpeg",
    opus: "audio/opus",
    aac: "audio/aac",
    flac: "audio/flac",
    wav: "audio/wav"
  }[format]

export class EncoderError extends Schema.TaggedError<EncoderError>()("EncoderError", {
  format: Schema.String,
  message: Schema.String
}) {}

/** A format whose encoder is an optional package that is not installed here. */
export class EncoderUnavailable extends Schema.TaggedError<EncoderUnavailable>()("EncoderUnavailable", {
  format: Schema.String,
  message: Schema.String,
  remediation: Schema.String
}) {}

/** The formats whose encoder lives in optional peer dependencies, and those packages. */
const OPTIONAL_PACKAGES: Partial<Record<SpeechFormat, ReadonlyArray<string>>> = {
  aac: ["mediabunny", "@mediabunny/aac-encoder"]
}

const loadAac = () => import("./aac.ts")

const isMissingModule = (cause: unknown) =>
  typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ERR_MODULE_NOT_FOUND"

/** Succeeds when `format` can be encoded here (its optional packages, if any, load). */
export const available = (format: SpeechFormat): Effect.Effect<void, EncoderUnavailable | EncoderError> => {
  const packages = OPTIONAL_PACKAGES[format]
  if (packages === undefined) return Effect.void
  return Effect.tryPromise({
    try: loadAac,
    catch: (cause) =>
      isMissingModule(cause)
        ? new EncoderUnavailable({
          format,
          message: `response format ${format} is not available on this server: its encoder's packages (${packages.join(", ")}) are not installed`,
          remediation: `ask for mp3, opus, flac, wav or pcm; or, on the server, npm install ${packages.join(" ")}`
        })
        : new EncoderError({ format, message: `cannot load the ${format} encoder: ${cause instanceof Error ? cause.message : String(cause)}` })
  })
}

const empty = new Uint8Array(0)

/** An encoder of the @audio/encode-* family, mono. */
const wasm = (make: Promise<{ encode(channels: Array<Float32Array>): Uint8Array; flush(): Uint8Array; free(): void }>) =>
  make.then((encoder): StreamingEncoder => ({
    encode: async (samples) => encoder.encode([samples]),
    flush: async () => encoder.flush(),
    free: () => encoder.free()
  }))

const makers: Readonly<Record<SpeechFormat, (sampleRate: number, streaming: boolean) => Promise<StreamingEncoder>>> = {
  mp3: (sampleRate) => wasm(mp3({ sampleRate, channels: 1, bitrate: 64 })),
  opus: (sampleRate) => wasm(opus({ sampleRate, channels: 1, bitrate: 32, application: "voip" })),
  flac: (sampleRate) => wasm(flac({ sampleRate, channels: 1, bitDepth: 16 })),
  aac: (sampleRate) => loadAac().then((aac) => aac.encoder(sampleRate)),
  pcm: async () => ({ encode: async (samples) => Audio.pcm(samples), flush: async () => empty, free: () => {} }),
  wav: async (sampleRate, streaming) => {
    if (streaming) {
      let header: Uint8Array | undefined = Audio.streamingWavHeader(sampleRate)
      const withHeader = (bytes: Uint8Array) => {
        if (header === undefined) return bytes
        const out = concatBytes([header, bytes])
        header = undefined
        return out
      }
      return { encode: async (samples) => withHeader(Audio.pcm(samples)), flush: async () => withHeader(empty), free: () => {} }
    }
    // A whole file gets its real sizes: collect, then write at flush.
    const parts: Array<Float32Array> = []
    return {
      encode: async (samples) => (parts.push(samples), empty),
      flush: async () => Audio.wav(parts.length === 1 ? parts[0]! : concatFloat32(parts), sampleRate),
      free: () => {}
    }
  }
}

/** A `format` encoder for mono audio at `sampleRate`; `streaming`: the output is sent as it is made. */
export const encoder = (format: SpeechFormat, sampleRate: number, streaming: boolean) =>
  available(format).pipe(Effect.andThen(Effect.tryPromise({
    try: () => makers[format](sampleRate, streaming),
    catch: (cause) => new EncoderError({ format, message: `cannot start the ${format} encoder: ${cause instanceof Error ? cause.message : String(cause)}` })
  })))

/** `samples` as a whole file in `format`. */
export const encodeWhole = (format: SpeechFormat, samples: Float32Array, sampleRate: number) =>
  Effect.acquireUseRelease(
    encoder(format, sampleRate, false),
    (e) =>
      Effect.tryPromise({
        try: async () => concatBytes([await e.encode(samples), await e.flush()]),
        catch: (cause) => new EncoderError({ format, message: `the ${format} encoder failed: ${cause instanceof Error ? cause.message : String(cause)}` })
      }),
    (e) => Effect.sync(() => e.free())
  )
