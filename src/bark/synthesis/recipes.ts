/**
 * The synthesis recipes this package ships:
 *
 * - `synthesis` (the default): normalize-text → split → voice → audio-cache,
 *   then per chunk tokenize → semantic → coarse → fine → codec → post.
 * - `draft`: the same without the fine stage: the codec decodes the two
 *   coarse codebooks (EnCodec at 1.5 kbps instead of 6), which saves the
 *   fine model's passes — a cheaper lane for previews; duller, buzzier audio.
 *
 * `pipelines/synthesis.ts` and `pipelines/draft.ts` declare them for the
 * runner script (`bark-pipeline plan synthesis`, `--synthesis draft`).
 *
 * @since 0.5.0
 */
import * as Pipeline from "../../pipeline/Pipeline.ts"
import * as Stages from "./stages.ts"
import * as SynthesisRecipe from "./SynthesisRecipe.ts"

export const synthesis = SynthesisRecipe.make({
  name: "synthesis",
  description: "Bark's chain for each chunk of the text: semantic, coarse, fine, EnCodec at 6 kbps",
  prepare: Pipeline.make("synthesis/prepare", "once per request: the text, its chunks, the voice, the audio cache").pipe(
    Pipeline.add(Stages.normalizeText),
    Pipeline.add(Stages.split),
    Pipeline.add(Stages.voice),
    Pipeline.add(Stages.audioCache)
  ),
  chunk: Pipeline.make("synthesis/chunk", "once per chunk: ids, tokens, codes, audio").pipe(
    Pipeline.add(Stages.tokenize),
    Pipeline.add(Stages.semantic),
    Pipeline.add(Stages.coarse),
    Pipeline.add(Stages.fine),
    Pipeline.add(Stages.codec),
    Pipeline.add(Stages.post)
  )
})

export const draft = synthesis.pipe(
  SynthesisRecipe.skip("fine", "draft lane: the codec decodes the two coarse codebooks (1.5 kbps)"),
  SynthesisRecipe.rename("draft", "a cheaper lane: no fine stage, EnCodec at 1.5 kbps from the two coarse codebooks")
)
