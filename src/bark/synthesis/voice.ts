/**
 * Stage `voice`: the history prompt every chunk starts from — a voice of the
 * model directory by name (or, for local callers, a suno `.npz`), or none:
 * Bark's unconditioned speaker.
 *
 * @since 0.5.0
 */
import { Effect } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { BarkSteps } from "./BarkSteps.ts"
import { SynthesisRequest, Voice } from "./services.ts"

export const stage = Stage.make({
  name: "voice",
  purpose: "load the voice prompt every chunk starts from",
  provides: Voice,
  build: Effect.gen(function*() {
    const name = (yield* SynthesisRequest).options.voice
    if (name === undefined) {
      yield* StageReporter.skipped("no voice: Bark's unconditioned speaker")
      return Voice.of({ name: undefined, prompt: undefined })
    }
    const prompt = yield* (yield* BarkSteps).voice(name)
    yield* StageReporter.annotate({ voice: name, semanticTokens: prompt.semantic.length, frames: prompt.fine.frames })
    return Voice.of({ name, prompt })
  })
})
