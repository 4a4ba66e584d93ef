/**
 * The one error checkpoint loading fails with: the file is unreadable, damaged,
 * in a format or feature we do not read, or refers to a Python global outside
 * the allowlist. `reason` says which, for callers that branch on it.
 *
 * The decoders are synchronous byte parsers. Internally they stop at the first
 * problem by throwing a `CheckpointError` (see `fail`); `attempt` turns that
 * back into a typed failure at the module boundary, while any other exception
 * stays a defect (a bug in the parser, not bad input).
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"

export const CheckpointErrorReason = Schema.Literals([
  /** The file could not be read from disk. */
  "io",
  /** The data ends before a length or offset read from it says it should. */
  "truncated",
  /** A header (safetensors JSON, npy dict, zip record) is malformed. */
  "header",
  /** A dtype outside what we read. */
  "dtype",
  /** A shape, stride or offset points outside its data, or sizes disagree. */
  "bounds",
  /** Two safetensors ranges overlap or leave a gap. */
  "overlap",
  /** The zip container is malformed. */
  "zip",
  /** The pickle program is malformed (stack underflow, bad arguments…). */
  "pickle",
  /** The pickle uses an opcode the restricted unpickler does not implement. */
  "opcode",
  /** The pickle refers to a Python global that is not on the allowlist. */
  "disallowed-global",
  /** A valid file using a feature or format we do not support. */
  "unsupported"
])
export type CheckpointErrorReason = typeof CheckpointErrorReason.Type

export class CheckpointError extends Schema.TaggedError<CheckpointError>()("CheckpointError", {
  /** The file (or entry) being read; "<memory>" when decoding bytes without a name. */
  file: Schema.String,
  reason: CheckpointErrorReason,
  message: Schema.String,
  remediation: Schema.String
}) {}

const corrupt =
  "The file is damaged or is not what its name says. Download it again (e.g. BARK_FORCE_DOWNLOAD=1) or re-export it."

const defaultRemediation: Record<CheckpointErrorReason, string> = {
  io: "Check that the path exists and is readable by this process.",
  truncated: `${corrupt} A truncated file usually means an interrupted download.`,
  header: corrupt,
  dtype: "Convert the tensor to a supported dtype (F64, F32, F16, BF16, I64, I32, I16, I8, U16, U8, BOOL) and save again.",
  bounds: corrupt,
  overlap: corrupt,
  zip: corrupt,
  pickle: corrupt,
  opcode: "Re-save the checkpoint with torch.save (pickle protocol 2 to 5), or convert it to safetensors.",
  "disallowed-global":
    "Only load checkpoints from sources you trust. If this global is expected, allow it explicitly " +
    "with the `allow` option; it is then kept as inert data, never called.",
  unsupported: "Convert the checkpoint to safetensors (e.g. with safetensors.torch.save_file) and load that."
}

/** A `CheckpointError` with the reason's usual remediation unless one is given; yield it to fail an Effect. */
export const checkpointError = (
  file: string,
  reason: CheckpointErrorReason,
  message: string,
  remediation?: string
): CheckpointError => new CheckpointError({ file, reason, message, remediation: remediation ?? defaultRemediation[reason] })

/** Stops a synchronous decoder with a typed error; `attempt` catches it. */
export const fail = (file: string, reason: CheckpointErrorReason, message: string, remediation?: string): never => {
  throw checkpointError(file, reason, message, remediation)
}

/** Runs a synchronous decoder, turning a thrown `CheckpointError` into a typed failure. */
export const attempt = <A>(decode: () => A): Effect.Effect<A, CheckpointError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(decode())
    } catch (error) {
      if (error instanceof CheckpointError) return Effect.fail(error)
      throw error
    }
  })

/** The name used in errors for bytes decoded without a file name. */
export const inMemory = "<memory>"
