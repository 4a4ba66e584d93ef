/**
 * Stage `post`: the chunk as it is delivered — every chunk after the first
 * starts with a short pause, so that a stream's chunks, concatenated, are the
 * whole synthesis. Records the peak and how many samples lie outside
 * [-1, 1] (16-bit output clips them).
 *
 * @since 0.5.0
 */
import { Effect } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { withLeadingSilence } from "../engine/assemble.ts"
import { BarkSteps } from "./BarkSteps.ts"
import { ChunkAudio, CurrentChunk, SpokenAudio, SynthesisRequest } from "./services.ts"

/** The peak of `audio` and how many of its samples lie outside [-1, 1]. */
export const levelOf = (audio: Float32Array): { readonly peak: number; readonly clipped: number } => {
  let peak = 0
  let clipped = 0
  for (let i = 0; i < audio.length; i++) {
    const a = Math.abs(audio[i]!)
    if (a > peak) peak = a
    if (a > 1) clipped++
  }
  return { peak, clipped }
}

export const stage = Stage.make({
  name: "post",
  purpose: "put the pause between chunks and measure the level",
  provides: SpokenAudio,
  needs: [ChunkAudio],
  build: Effect.gen(function*() {
    const { audio } = yield* ChunkAudio
    const { index } = yield* CurrentChunk
    const { silenceSeconds } = yield* SynthesisRequest
    const { sampleRate } = yield* BarkSteps
    const { peak, clipped } = levelOf(audio)
    yield* StageReporter.annotate({ peak: Math.round(peak * 1000) / 1000, clipped })
    return SpokenAudio.of({ audio: index === 0 ? audio : withLeadingSilence(audio, sampleRate, silenceSeconds) })
  })
})
