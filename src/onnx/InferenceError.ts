/**
 * The one error an inference call can fail with: session creation or a run
 * failed inside onnxruntime.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export class InferenceError extends Schema.TaggedError<InferenceError>()("InferenceError", {
  /** Which model or graph failed, e.g. "semantic", "codec". */
  model: Schema.String,
  message: Schema.String,
  remediation: Schema.String
}) {}
