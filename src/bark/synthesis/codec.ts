/**
 * Stage `codec`: the chunk's waveform from its codebooks with EnCodec's
 * decoder — 8 codebooks (6 kbps) after the fine stage, 2 (1.5 kbps) in the
 * draft lane.
 *
 * @since 0.5.0
 */
import { Effect } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { BarkSteps } from "./BarkSteps.ts"
import { ChunkAudio, CurrentChunk, FineCodes, SynthesisRequest } from "./services.ts"

/** EnCodec 24 kHz: 75 frames per second of 10-bit codes, per codebook. */
const KBPS_PER_CODEBOOK = 0.75

export const stage = Stage.make({
  name: "codec",
  purpose: "decode the codebooks into 24 kHz audio with EnCodec",
  provides: ChunkAudio,
  needs: [FineCodes],
  build: Effect.gen(function*() {
    const { codes } = yield* FineCodes
    const steps = yield* BarkSteps
    const audio = yield* steps.codec(codes)
    const { onProgress } = (yield* SynthesisRequest).options
    if (onProgress !== undefined) {
      const { index, count } = yield* CurrentChunk
      yield* onProgress({ chunk: index, chunks: count, stage: "codec", done: 1, total: 1 })
    }
    yield* StageReporter.annotate({
      codebooks: codes.rows,
      kbps: codes.rows * KBPS_PER_CODEBOOK,
      samples: audio.length,
      audioSeconds: Math.round((audio.length / steps.sampleRate) * 1000) / 1000
    })
    return ChunkAudio.of({ audio })
  })
})
