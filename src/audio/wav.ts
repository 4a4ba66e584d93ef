/**
 * WAV (RIFF/WAVE) files: encoding mono float samples as 16-bit PCM (clipped
 * to [-1, 1]) or 32-bit float, and decoding PCM16 / float32 files of any
 * channel count back to float samples.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"

export class WavError extends Schema.TaggedError<WavError>()("WavError", {
  message: Schema.String,
  remediation: Schema.String
}) {}

export type WavFormat = "pcm16" | "float32"

export interface Wav {
  readonly sampleRate: number
  readonly channels: number
  readonly format: WavFormat
  /** Interleaved when `channels` > 1; PCM16 scaled to [-1, 1). */
  readonly samples: Float32Array
}

const PCM = 1
const IEEE_FLOAT = 3
const EXTENSIBLE = 0xfffe

const ascii = (view: DataView, at: number, text: string) => {
  for (let i = 0; i < text.length; i++) view.setUint8(at + i, text.charCodeAt(i))
}

/** Clips to [-1, 1] and scales by 32767, rounding halves away from zero so ±x stay symmetric. */
const toPcm16 = (x: number): number => {
  if (Number.isNaN(x)) return 0
  const scaled = Math.max(-1, Math.min(1, x)) * 32767
  return Math.sign(scaled) * Math.round(Math.abs(scaled))
}

/** Encodes mono samples; PCM16 clips to [-1, 1] (NaN → 0), float32 keeps them as they are. */
export const encodeWav = (samples: Float32Array, sampleRate: number, format: WavFormat = "pcm16"): Uint8Array => {
  const float = format === "float32"
  const bytesPerSample = float ? 4 : 2
  const dataBytes = samples.length * bytesPerSample
  // float files carry the extended fmt chunk (cbSize 0) and a fact chunk, as the WAVE spec asks for non-PCM data
  const fmtBytes = float ? 18 : 16
  const factBytes = float ? 12 : 0
  const headerBytes = 12 + 8 + fmtBytes + factBytes + 8
  if (headerBytes - 8 + dataBytes > 0xffff_ffff) throw new RangeError(`${samples.length} samples do not fit in a WAV file`)
  const out = new Uint8Array(headerBytes + dataBytes)
  const view = new DataView(out.buffer)
  ascii(view, 0, "RIFF")
  view.setUint32(4, headerBytes - 8 + dataBytes, true)
  ascii(view, 8, "WAVE")
  ascii(view, 12, "fmt ")
  view.setUint32(16, fmtBytes, true)
  view.setUint16(20, float ? IEEE_FLOAT : PCM, true)
  view.setUint16(22, 1, true)
  view.setUint32(24, sampleRate, true)
  view.setUint32(28, sampleRate * bytesPerSample, true)
  view.setUint16(32, bytesPerSample, true)
  view.setUint16(34, bytesPerSample * 8, true)
  let at = 20 + fmtBytes
  if (float) {
    view.setUint16(36, 0, true)
    ascii(view, at, "fact")
    view.setUint32(at + 4, 4, true)
    view.setUint32(at + 8, samples.length, true)
    at += factBytes
  }
  ascii(view, at, "data")
  view.setUint32(at + 4, dataBytes, true)
  at += 8
  for (let i = 0; i < samples.length; i++, at += bytesPerSample) {
    const x = samples[i]!
    if (float) view.setFloat32(at, x, true)
    else view.setInt16(at, toPcm16(x), true)
  }
  return out
}

const malformed = (message: string) =>
  new WavError({
    message: `not a readable WAV file: ${message}`,
    remediation: "Provide a RIFF/WAVE file with 16-bit PCM or 32-bit float samples."
  })

interface Format {
  readonly tag: number
  readonly channels: number
  readonly sampleRate: number
  readonly bits: number
}

const readFormat = (view: DataView, at: number, size: number): Format | string => {
  if (size < 16) return `the fmt chunk is ${size} bytes, shorter than 16`
  let tag = view.getUint16(at, true)
  // WAVE_FORMAT_EXTENSIBLE names the real format in the first two bytes of its sub-format GUID
  if (tag === EXTENSIBLE) {
    if (size < 40) return "the extensible fmt chunk is too short"
    tag = view.getUint16(at + 24, true)
  }
  return { tag, channels: view.getUint16(at + 2, true), sampleRate: view.getUint32(at + 4, true), bits: view.getUint16(at + 14, true) }
}

/**
 * Decodes a PCM16 or float32 WAV file, streamed ones (data size 0xFFFFFFFF)
 * included; anything else is a `WavError` saying what is wrong.
 */
export const decodeWav = (bytes: Uint8Array): Effect.Effect<Wav, WavError> =>
  Effect.suspend(() => {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4))
    if (bytes.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") {
      return Effect.fail(malformed("it does not start with a RIFF/WAVE header"))
    }
    let format: Format | undefined
    let at = 12
    while (at + 8 <= bytes.length) {
      const id = tag(at)
      const body = at + 8
      // A streamed WAV's data size is 0xFFFFFFFF, "unknown": the data runs to the end of the file.
      const declared = view.getUint32(at + 4, true)
      const size = id === "data" && declared === 0xffff_ffff ? bytes.length - body : declared
      if (size > bytes.length - body) return Effect.fail(malformed(`the "${id}" chunk claims ${size} bytes but the file ends first`))
      if (id === "fmt ") {
        const parsed = readFormat(view, body, size)
        if (typeof parsed === "string") return Effect.fail(malformed(parsed))
        format = parsed
      } else if (id === "data") {
        if (format === undefined) return Effect.fail(malformed("the data chunk comes before any fmt chunk"))
        return decodeData(view, body, size, format)
      }
      at = body + size + (size % 2) // chunks are padded to even sizes
    }
    return Effect.fail(malformed(format === undefined ? "no fmt chunk" : "no data chunk"))
  })

const decodeData = (view: DataView, at: number, size: number, format: Format): Effect.Effect<Wav, WavError> => {
  const { tag, channels, sampleRate, bits } = format
  const kind: WavFormat | undefined = tag === PCM && bits === 16 ? "pcm16" : tag === IEEE_FLOAT && bits === 32 ? "float32" : undefined
  if (kind === undefined) {
    return Effect.fail(
      new WavError({
        message: `unsupported WAV sample format (format tag ${tag}, ${bits} bits)`,
        remediation: "Convert the file to 16-bit PCM or 32-bit float WAV (e.g. ffmpeg -c:a pcm_s16le)."
      })
    )
  }
  if (channels === 0 || sampleRate === 0) return Effect.fail(malformed(`${channels} channels at ${sampleRate} Hz`))
  const width = bits / 8
  const samples = new Float32Array(Math.floor(size / (width * channels)) * channels)
  for (let i = 0; i < samples.length; i++) {
    samples[i] = kind === "pcm16" ? view.getInt16(at + 2 * i, true) / 32768 : view.getFloat32(at + 4 * i, true)
  }
  return Effect.succeed({ sampleRate, channels, format: kind, samples })
}
