/**
 * The one error the hub client fails with. `reason` says what went wrong in a
 * way a caller can branch on; `message` says it for a person and
 * `remediation` says what to do about it. Neither ever contains the token.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export const HubErrorReason = Schema.Literals([
  "offline-missing",
  "not-found",
  "unauthorized",
  "checksum",
  "network",
  "unsafe-path",
  "invalid-response",
  "invalid-repo",
  "invalid-config",
  "filesystem"
])
export type HubErrorReason = typeof HubErrorReason.Type

export class HubError extends Schema.TaggedError<HubError>()("HubError", {
  reason: HubErrorReason,
  message: Schema.String,
  remediation: Schema.String,
  /** The repository id, when the error concerns one. */
  repo: Schema.optionalKey(Schema.String),
  /** The repository-relative file, when the error concerns one. */
  file: Schema.optionalKey(Schema.String),
  /** The HTTP status that caused it, if any. */
  status: Schema.optionalKey(Schema.Number)
}) {}
