/**
 * The error that stops a pipeline. A stage fails with it when it cannot
 * provide its service at all; recoverable problems are warnings instead
 * (see `Stage.warn`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export class StageFatal extends Schema.TaggedError<StageFatal>()("StageFatal", {
  /** What went wrong, in one sentence. */
  message: Schema.String,
  /** What the operator can do about it. */
  remediation: Schema.String,
  /** The tag of the underlying error, when the failure wraps one (e.g. "HubError"). */
  errorTag: Schema.optionalKey(Schema.String)
}) {}

/** Wraps a typed error that carries `message` (and optionally `remediation`) as a StageFatal. */
export const fromError = (
  error: { readonly _tag: string; readonly message: string; readonly remediation?: string },
  fallbackRemediation = "see the message above"
): StageFatal =>
  new StageFatal({
    message: error.message,
    remediation: error.remediation ?? fallbackRemediation,
    errorTag: error._tag
  })
