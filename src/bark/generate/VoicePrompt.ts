/**
 * A voice (history prompt): the semantic tokens and codes of a recording that
 * condition all three generation stages, and the checks that make it safe to
 * feed to the models.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Codes } from "./Codes.ts"
import { CODEBOOK_SIZE, N_COARSE_CODEBOOKS, N_FINE_CODEBOOKS, SEMANTIC_TO_COARSE_RATIO, SEMANTIC_VOCAB_SIZE } from "./constants.ts"
import { InvalidVoicePrompt } from "./errors.ts"
import { roundHalfEven } from "./roundHalfEven.ts"

export interface VoicePrompt {
  /** Semantic tokens, 0..9999. */
  readonly semantic: Int32Array
  /** Codebooks 0..1 (2 × Tc), codes 0..1023. */
  readonly coarse: Codes
  /** Codebooks 0..7 (8 × Tc), codes 0..1023. */
  readonly fine: Codes
}

const outOfRange = (values: Int32Array, max: number): number => values.findIndex((v) => v < 0 || v > max)

/** The semantic-to-coarse length ratio suno-ai/bark requires: round(Tc / Ns, 1) == 1.5. */
const ratioOk = (semantic: number, frames: number): boolean =>
  roundHalfEven((frames / semantic) * 10) === roundHalfEven((SEMANTIC_TO_COARSE_RATIO / N_COARSE_CODEBOOKS) * 10)

/**
 * Checks a prompt as suno-ai/bark does before using it: value ranges, shapes
 * (2 coarse rows, 8 fine rows, same width) and the semantic/coarse length ratio.
 * `voice` names the prompt in the error.
 */
export const validateVoicePrompt = (voice: string, prompt: VoicePrompt): Effect.Effect<VoicePrompt, InvalidVoicePrompt> => {
  const fail = (message: string) =>
    Effect.fail(
      new InvalidVoicePrompt({
        voice,
        message: `voice prompt "${voice}": ${message}`,
        remediation: "Use a prompt saved by Bark (semantic_prompt, coarse_prompt, fine_prompt) or pick another voice."
      })
    )
  const { semantic, coarse, fine } = prompt
  if (semantic.length === 0) return fail("semantic_prompt is empty")
  const badSemantic = outOfRange(semantic, SEMANTIC_VOCAB_SIZE - 1)
  if (badSemantic >= 0) {
    return fail(`semantic_prompt[${badSemantic}] = ${semantic[badSemantic]} is outside 0..${SEMANTIC_VOCAB_SIZE - 1}`)
  }
  if (coarse.rows !== N_COARSE_CODEBOOKS) return fail(`coarse_prompt has ${coarse.rows} rows, expected ${N_COARSE_CODEBOOKS}`)
  if (fine.rows !== N_FINE_CODEBOOKS) return fail(`fine_prompt has ${fine.rows} rows, expected ${N_FINE_CODEBOOKS}`)
  if (coarse.frames !== fine.frames) {
    return fail(`coarse_prompt has ${coarse.frames} frames but fine_prompt has ${fine.frames}`)
  }
  for (const [name, codes] of [["coarse_prompt", coarse], ["fine_prompt", fine]] as const) {
    if (codes.data.length !== codes.rows * codes.frames) {
      return fail(`${name} holds ${codes.data.length} values for ${codes.rows}×${codes.frames}`)
    }
    const bad = outOfRange(codes.data, CODEBOOK_SIZE - 1)
    if (bad >= 0) return fail(`${name} holds ${codes.data[bad]}, outside 0..${CODEBOOK_SIZE - 1}`)
  }
  if (!ratioOk(semantic.length, coarse.frames)) {
    return fail(
      `${coarse.frames} coarse frames for ${semantic.length} semantic tokens; Bark needs about 1.5 frames per token`
    )
  }
  return Effect.succeed(prompt)
}
