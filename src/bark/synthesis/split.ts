/**
 * Stage `split`: the text in chunks that each fit one Bark generation
 * (../text.ts: sentences packed greedily within a word and token budget). A
 * sentence too long for one chunk is cut at word boundaries, which Bark
 * speaks with a seam: the stage warns.
 *
 * @since 0.5.0
 */
import { Effect } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { invalidInput } from "../engine/errors.ts"
import { splitText } from "../text.ts"
import { BarkSteps } from "./BarkSteps.ts"
import { SpokenText, SynthesisRequest, TextChunks } from "./services.ts"

export const stage = Stage.make({
  name: "split",
  purpose: "cut the text into chunks of at most ~14 s of speech, at sentence boundaries",
  provides: TextChunks,
  needs: [SpokenText],
  build: Effect.gen(function*() {
    const { text } = yield* SpokenText
    const { split } = yield* SynthesisRequest
    const { tokenizer } = yield* BarkSteps
    if (text === "") return yield* invalidInput("the text is empty", "Give some text to speak.")
    const { chunks } = splitText(text, { ...split, countTokens: (t) => tokenizer.encode(t).length })
    const cut = chunks.filter((c) => c.splitSentence).length
    yield* StageReporter.annotate({ chunks: chunks.length, characters: text.length, splitSentences: cut })
    if (cut > 0) {
      yield* StageReporter.warn(
        `${cut} chunk${cut === 1 ? "" : "s"} of a sentence too long for one generation, cut at word boundaries`,
        "end sentences sooner (a period, question or exclamation mark) so that each fits one chunk (about 40 words)"
      )
    }
    return TextChunks.of({ chunks })
  })
})
