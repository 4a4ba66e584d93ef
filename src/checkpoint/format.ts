/**
 * Which checkpoint format a file holds, recognised from its first bytes:
 * safetensors or PyTorch's zip format. The legacy pre-1.6 torch format and
 * anything else are refused with directions to convert them.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { ByteSource } from "./ByteSource.ts"
import { type CheckpointError, checkpointError } from "./CheckpointError.ts"

export type CheckpointFormat = "safetensors" | "torch"

/** Which format the first bytes announce. */
const sniff = (head: Uint8Array): CheckpointFormat | "legacy-torch" | undefined => {
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return "torch"
  if (head[0] === 0x80) return "legacy-torch" // a bare pickle: torch.save before 1.6, or _use_new_zipfile_serialization=False
  if (head.byteLength > 8 && head[8] === 0x7b) return "safetensors" // an 8-byte length, then the JSON header's "{"
  return undefined
}

/** Reads the first bytes of `source` and names its format, or fails as "unsupported". */
export const detectFormat = (source: ByteSource): Effect.Effect<CheckpointFormat, CheckpointError> =>
  Effect.gen(function*() {
    const head = yield* source.read(0, Math.min(9, source.size), "the first bytes")
    const format = sniff(head)
    if (format === "legacy-torch") {
      return yield* checkpointError(source.file, "unsupported", "this is a legacy (pre-1.6, non-zip) PyTorch checkpoint, which is not read",
        "Re-save it with torch>=1.6 (torch.save(torch.load(path), path)) or convert it to safetensors " +
          "(safetensors.torch.save_file) and load that.")
    }
    if (format === undefined) {
      return yield* checkpointError(source.file, "unsupported", "not a safetensors file or a PyTorch zip checkpoint",
        "Point to a .safetensors file or a .bin/.pt file written by torch.save (torch>=1.6).")
    }
    return format
  })
