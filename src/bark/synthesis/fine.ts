/**
 * Stage `fine`: codebooks 2..7 from the first two, with the non-causal fine
 * model. The draft lane skips it: its skip value hands the two coarse
 * codebooks on unchanged, for the codec to decode at 1.5 kbps.
 *
 * @since 0.5.0
 */
import { Effect } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { BarkSteps } from "./BarkSteps.ts"
import { stepProgress } from "./progress.ts"
import { CoarseCodes, CurrentChunk, FineCodes, SynthesisRequest } from "./services.ts"

export const stage = Stage.make({
  name: "fine",
  purpose: "complete codebooks 2..7 with the fine model",
  provides: FineCodes,
  needs: [CoarseCodes],
  skip: {
    when: Effect.succeed(undefined),
    value: CoarseCodes.useSync(({ codes, sampler }) => FineCodes.of({ codes, sampler }))
  },
  build: Effect.gen(function*() {
    const request = yield* SynthesisRequest
    const current = yield* CurrentChunk
    const coarse = yield* CoarseCodes
    const progress = stepProgress(request, current, "fine")
    const { value, sampler } = yield* (yield* BarkSteps).fine({
      coarse: coarse.codes,
      history: current.history,
      params: request.sampling.fine,
      sampler: coarse.sampler,
      onProgress: progress.onProgress
    })
    yield* StageReporter.annotate({ codebooks: value.rows, frames: value.frames })
    return FineCodes.of({ codes: value, sampler })
  })
})
