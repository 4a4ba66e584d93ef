/**
 * Stage `semantic`: the chunk's semantic tokens (49.9 per second of speech),
 * sampled from the semantic model with the history prompt. Bark stops at EOS;
 * a chunk that runs into the length cap instead (15.4 s, or the engine's
 * `maxGenDurationS`) is usually cut mid-word, and the stage warns.
 *
 * @since 0.5.0
 */
import { Effect } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { SynthesisError } from "../engine/BarkEngine.ts"
import { SEMANTIC_RATE_HZ } from "../generate/constants.ts"
import { BarkSteps } from "./BarkSteps.ts"
import { stepProgress } from "./progress.ts"
import { CurrentChunk, SemanticTokens, SynthesisRequest, TextIds } from "./services.ts"

export const stage = Stage.make({
  name: "semantic",
  purpose: "sample the chunk's semantic tokens with the semantic model",
  provides: SemanticTokens,
  needs: [TextIds],
  build: Effect.gen(function*() {
    const request = yield* SynthesisRequest
    const current = yield* CurrentChunk
    const { ids } = yield* TextIds
    const progress = stepProgress(request, current, "semantic")
    const { value, sampler } = yield* (yield* BarkSteps).semantic({
      textIds: ids,
      history: current.history,
      params: request.sampling.semantic,
      sampler: current.sampler,
      onProgress: progress.onProgress
    })
    const seconds = value.tokens.length / SEMANTIC_RATE_HZ
    yield* StageReporter.annotate({
      tokens: value.tokens.length,
      seconds: Math.round(seconds * 100) / 100,
      stop: value.stop,
      ...(value.stop === "eos" || value.stop === "min-eos-p" ? { eosStep: value.tokens.length } : {}),
      batch: progress.largestBatch()
    })
    if (value.tokens.length === 0) {
      return yield* new SynthesisError({
        reason: "generation",
        message: "the semantic stage stopped before its first token (EOS right away)",
        remediation: "Lower min_eos_p (or disable early stop), or try other text or another voice."
      })
    }
    if (value.stop === "max-duration" || value.stop === "max-tokens") {
      yield* StageReporter.warn(
        `chunk ${current.index + 1} reached the semantic length cap (${value.tokens.length} tokens, ${seconds.toFixed(1)} s) without EOS: its speech may be cut off`,
        "use shorter chunks (fewer words per sentence), or raise the cap (maxGenDurationS) if it was lowered"
      )
    }
    return SemanticTokens.of({ tokens: value.tokens, stop: value.stop, sampler })
  })
})
