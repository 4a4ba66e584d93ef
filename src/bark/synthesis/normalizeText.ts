/**
 * Stage `normalize-text`: the text as it will be spoken. Bark reads
 * spelled-out words far better than digits and symbols, so by default the
 * English normaliser (../normalizeEnglish.ts) writes numbers, currency,
 * dates, abbreviations and symbols out ("$5.99" → "five dollars and
 * ninety-nine cents"); then whitespace is normalised as suno-ai/bark does.
 * `BARK_TEXT_NORMALIZER=off` skips the English rules (for other languages);
 * a recipe can replace the stage with its own normaliser.
 *
 * @since 0.5.0
 */
import { Config, Effect } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { normalizeEnglish } from "../normalizeEnglish.ts"
import { normalizeText } from "../tokenizer.ts"
import { SpokenText, SynthesisRequest } from "./services.ts"

/** BARK_TEXT_NORMALIZER: `english` (default) or `off`. */
export const normalizer = Config.Literals(["english", "off"], "BARK_TEXT_NORMALIZER").pipe(Config.withDefault("english" as const))

export const stage = Stage.make({
  name: "normalize-text",
  purpose: "write numbers, currency, dates, abbreviations and symbols out as English words",
  provides: SpokenText,
  skip: {
    when: Effect.map(normalizer, (n) => n === "off" ? "BARK_TEXT_NORMALIZER=off: the text is spoken as written" : undefined),
    value: SynthesisRequest.useSync(({ text }) => SpokenText.of({ text: normalizeText(text) }))
  },
  build: Effect.gen(function*() {
    const { text } = yield* SynthesisRequest
    const english = normalizeEnglish(text)
    yield* StageReporter.annotate({ changes: english.changes, characters: text.length })
    return SpokenText.of({ text: normalizeText(english.text) })
  })
})
