/**
 * Long-form audio from chunks: every chunk after the first starts with a
 * short silence, so that the chunks of a stream, concatenated, are exactly
 * the audio `synthesize` returns.
 *
 * @since 0.1.0
 */
import { Effect, Stream } from "effect"
import { concatFloat32 } from "../../files/bytes.ts"
import type { AudioChunk, Synthesis } from "./BarkEngine.ts"

/** The pause between two chunks of long-form text, in seconds. */
export const DEFAULT_SILENCE_SECONDS = 0.25

/** `audio` preceded by `seconds` of silence. */
export const withLeadingSilence = (audio: Float32Array, sampleRate: number, seconds: number): Float32Array => {
  const gap = Math.round(seconds * sampleRate)
  if (gap === 0) return audio
  const out = new Float32Array(gap + audio.length)
  out.set(audio, gap)
  return out
}

/** The chunks' audio, one after the other. */
export const joinAudio = (chunks: ReadonlyArray<{ readonly audio: Float32Array }>): Float32Array =>
  concatFloat32(chunks.map((c) => c.audio))

/** Runs a chunk stream to the end and joins it into one synthesis. */
export const collectSynthesis = <E>(chunks: Stream.Stream<AudioChunk, E>, sampleRate: number): Effect.Effect<Synthesis, E> =>
  Effect.map(Stream.runCollect(chunks), (all) => {
    const audio = joinAudio(all)
    const seed = all[0]?.seed
    return {
      audio,
      sampleRate,
      chunks: all.map(({ audio, ...rest }) => ({ ...rest, samples: audio.length })),
      ...(seed === undefined ? {} : { seed })
    }
  })
