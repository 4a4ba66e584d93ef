/**
 * Stage `coarse`: EnCodec's first two codebooks (75 frames per second) from
 * the semantic tokens, sampled window by window from the coarse model.
 *
 * @since 0.5.0
 */
import { Effect } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { BarkSteps } from "./BarkSteps.ts"
import { stepProgress } from "./progress.ts"
import { CoarseCodes, CurrentChunk, SemanticTokens, SynthesisRequest } from "./services.ts"

export const stage = Stage.make({
  name: "coarse",
  purpose: "sample codebooks 0..1 from the semantic tokens with the coarse model",
  provides: CoarseCodes,
  needs: [SemanticTokens],
  build: Effect.gen(function*() {
    const request = yield* SynthesisRequest
    const current = yield* CurrentChunk
    const semantic = yield* SemanticTokens
    const progress = stepProgress(request, current, "coarse")
    const { value, sampler } = yield* (yield* BarkSteps).coarse({
      semantic: semantic.tokens,
      history: current.history,
      params: request.sampling.coarse,
      sampler: semantic.sampler,
      onProgress: progress.onProgress
    })
    yield* StageReporter.annotate({ frames: value.frames, tokens: value.frames * value.rows, batch: progress.largestBatch() })
    return CoarseCodes.of({ codes: value, sampler })
  })
})
