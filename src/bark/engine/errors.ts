/**
 * How the errors of the layers below the engine (voices, generation,
 * onnxruntime) become the one error a synthesis can fail with, keeping
 * their message and remediation.
 *
 * @since 0.1.0
 */
import { SynthesisError } from "./BarkEngine.ts"

/** Errors a synthesis meets below the engine, by tag. */
export interface LowerError {
  readonly _tag: string
  readonly message: string
  readonly remediation: string
}

const reasons: Readonly<Record<string, string>> = {
  VoiceNotFound: "unknown-voice",
  InvalidVoicePrompt: "invalid-voice",
  GenerationInputError: "generation",
  InferenceError: "inference",
  TokenizerError: "invalid-input"
}

export const toSynthesisError = (error: LowerError): SynthesisError =>
  error instanceof SynthesisError
    ? error
    : new SynthesisError({ reason: reasons[error._tag] ?? "generation", message: error.message, remediation: error.remediation })

export const invalidInput = (message: string, remediation: string) =>
  new SynthesisError({ reason: "invalid-input", message, remediation })
