/**
 * Typed errors of the generation stages: inputs a stage cannot run on and
 * voice prompts that do not fit Bark's layout.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A stage was given tokens or parameters it cannot run on. */
export class GenerationInputError extends Schema.TaggedError<GenerationInputError>()("GenerationInputError", {
  /** The stage that rejected its input: "semantic", "coarse", "fine" or "codec". */
  stage: Schema.String,
  message: Schema.String,
  remediation: Schema.String
}) {}

/** A voice prompt (history) whose arrays do not fit Bark's layout. */
export class InvalidVoicePrompt extends Schema.TaggedError<InvalidVoicePrompt>()("InvalidVoicePrompt", {
  /** Where the prompt came from: a voice name, a file, or "inline". */
  voice: Schema.String,
  message: Schema.String,
  remediation: Schema.String
}) {}
