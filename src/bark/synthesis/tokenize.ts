/**
 * Stage `tokenize`: the chunk's BERT ids. Bark's semantic model reads 256 of
 * them; the stage warns when a chunk has more (its end is never spoken).
 *
 * @since 0.5.0
 */
import { Effect } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { invalidInput } from "../engine/errors.ts"
import { CONTEXT_FIELD_LENGTH } from "../generate/constants.ts"
import { normalizeText } from "../tokenizer.ts"
import { BarkSteps } from "./BarkSteps.ts"
import { CurrentChunk, TextIds } from "./services.ts"

export const stage = Stage.make({
  name: "tokenize",
  purpose: "encode the chunk with the model's BERT vocabulary",
  provides: TextIds,
  build: Effect.gen(function*() {
    const { chunk, index } = yield* CurrentChunk
    const text = normalizeText(chunk.text)
    if (text === "") return yield* invalidInput("the text is empty", "Give some text to speak.")
    const ids = (yield* BarkSteps).tokenizer.encode(text)
    yield* StageReporter.annotate({ chunk: index, tokens: ids.length })
    if (ids.length > CONTEXT_FIELD_LENGTH) {
      yield* StageReporter.warn(
        `chunk ${index + 1} has ${ids.length} text tokens; Bark reads ${CONTEXT_FIELD_LENGTH}, so its last ${ids.length - CONTEXT_FIELD_LENGTH} are not spoken`,
        "use shorter sentences, or a smaller chunk budget (the split stage's maxWords / maxTokens)"
      )
    }
    return TextIds.of({ ids })
  })
})
