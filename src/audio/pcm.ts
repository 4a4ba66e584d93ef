/**
 * The audio formats the service answers with: a WAV file (16-bit PCM),
 * raw PCM (s16le, mono, the engine's rate) and a streaming WAV — a WAV
 * header whose RIFF and data sizes are 0xFFFFFFFF ("unknown length", which
 * ffmpeg, browsers and most players accept) followed by PCM chunks as the
 * long-form generator produces them.
 *
 * @since 0.1.0
 */
import { encodeWav } from "./wav.ts"

const HEADER_BYTES = encodeWav(new Float32Array(0), 1).length

export const wav = (samples: Float32Array, sampleRate: number): Uint8Array => encodeWav(samples, sampleRate)

/** Little-endian signed 16-bit samples, clipped to [-1, 1] exactly as in the WAV file. */
export const pcm = (samples: Float32Array): Uint8Array => encodeWav(samples, 1).subarray(HEADER_BYTES)

export const pcmContentType = (sampleRate: number) => `audio/pcm;rate=${sampleRate}`

/** The header of a WAV stream of unknown length. */
export const streamingWavHeader = (sampleRate: number): Uint8Array => {
  const header = encodeWav(new Float32Array(0), sampleRate)
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength)
  view.setUint32(4, 0xffff_ffff, true)
  view.setUint32(HEADER_BYTES - 4, 0xffff_ffff, true)
  return header
}
