/**
 * AAC-LC in an ADTS stream (OpenAI's `response_format: "aac"`): FFmpeg's
 * native AAC encoder compiled to WebAssembly (`@mediabunny/aac-encoder`, run
 * on a worker thread) behind mediabunny's ADTS muxer, whose `onFrame` hands
 * over each ADTS frame as it is written. There is no lighter AAC encoder that
 * runs in Node without WebCodecs; loaded only when AAC is asked for.
 *
 * @since 0.3.0
 */
import { registerAacEncoder } from "@mediabunny/aac-encoder"
import { AdtsOutputFormat, AudioSample, AudioSampleSource, BufferTarget, Output } from "mediabunny"
import { concatBytes } from "../files/bytes.ts"
import type { StreamingEncoder } from "./StreamingEncoder.ts"

registerAacEncoder()

/** 64 kbit/s: speech at 24 kHz mono. */
const BITRATE = 64_000

export const encoder = async (sampleRate: number): Promise<StreamingEncoder> => {
  let frames: Array<Uint8Array> = []
  const take = () => {
    const out = concatBytes(frames)
    frames = []
    return out
  }
  const output = new Output({
    format: new AdtsOutputFormat({ onFrame: (data) => void frames.push(data.slice()) }),
    target: new BufferTarget() // unused: the frames are taken as they come
  })
  const source = new AudioSampleSource({ codec: "aac", bitrate: BITRATE })
  output.addAudioTrack(source)
  await output.start()
  let written = 0
  return {
    encode: async (samples) => {
      if (samples.length === 0) return take()
      const sample = new AudioSample({ data: samples, format: "f32", numberOfChannels: 1, sampleRate, timestamp: written / sampleRate })
      written += samples.length
      await source.add(sample)
      sample.close()
      return take()
    },
    flush: async () => {
      source.close()
      await output.finalize()
      return take()
    },
    free: () => void (output.state === "finalized" ? undefined : output.cancel())
  }
}
