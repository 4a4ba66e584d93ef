/**
 * Loading a checkpoint file: reads it whole (files past 2 GiB included, which
 * a single `readFile` cannot), recognises the format from its first bytes and
 * decodes it safely. Safetensors and PyTorch's zip format are read; the legacy
 * pre-1.6 torch format is refused with directions to convert it.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem } from "effect"
import { CheckpointError } from "./CheckpointError.ts"
import type { SafeGlobal } from "./pickle.ts"
import { decode as decodeSafetensors } from "./safetensors.ts"
import type { Weights } from "./Tensor.ts"
import { loadTorchCheckpoint } from "./torch.ts"

export type CheckpointFormat = "safetensors" | "torch"

export interface LoadedCheckpoint {
  readonly format: CheckpointFormat
  /** The tensors; where the format allows, views into `bytes`. */
  readonly tensors: Weights
  /** Non-tensor data: safetensors `__metadata__`, or the torch pickle's other values by dotted path. */
  readonly extra: Readonly<Record<string, unknown>>
  /** The whole file, e.g. for hashing; the tensors keep it alive anyway. */
  readonly bytes: Uint8Array
}

export interface LoadOptions {
  /** Further pickle globals to allow in torch checkpoints (see `loadTorchCheckpoint`). */
  readonly allow?: ReadonlyArray<SafeGlobal>
}

/** Node reads at most 2 GiB per call; larger files are read in pieces. */
const chunkBytes = 1 << 30

const readWhole = Effect.fn("readWhole")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  const file = yield* fs.open(path, { flag: "r" })
  const size = Number((yield* file.stat).size)
  const bytes = new Uint8Array(size)
  for (let at = 0; at < size;) {
    const read = yield* file.read(bytes.subarray(at, Math.min(size, at + chunkBytes)), { position: BigInt(at) })
    if (read === 0) break
    at += read
  }
  return bytes
}, Effect.scoped)

/** Which format the first bytes announce. */
const sniff = (bytes: Uint8Array): CheckpointFormat | "legacy-torch" | undefined => {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return "torch"
  if (bytes[0] === 0x80) return "legacy-torch" // a bare pickle: torch.save before 1.6, or _use_new_zipfile_serialization=False
  if (bytes.byteLength > 8 && bytes[8] === 0x7b) return "safetensors" // an 8-byte length, then the JSON header's "{"
  return undefined
}

/** Reads and validates a checkpoint: safetensors or a PyTorch zip checkpoint (`.bin`, `.pt`, `.pth`). */
export const loadCheckpoint = Effect.fn("loadCheckpoint")(function*(path: string, options: LoadOptions = {}) {
  const bytes = yield* readWhole(path).pipe(
    Effect.mapError((error) =>
      new CheckpointError({
        file: path,
        reason: "io",
        message: `cannot read the checkpoint: ${error.message}`,
        remediation: "Check that the path exists and is readable by this process."
      })
    )
  )
  switch (sniff(bytes)) {
    case "safetensors": {
      const { tensors, metadata } = yield* decodeSafetensors(bytes, path)
      return { format: "safetensors", tensors, extra: metadata, bytes } satisfies LoadedCheckpoint
    }
    case "torch": {
      const { tensors, extra } = yield* loadTorchCheckpoint(bytes, { file: path, ...options })
      return { format: "torch", tensors, extra, bytes } satisfies LoadedCheckpoint
    }
    case "legacy-torch":
      return yield* new CheckpointError({
        file: path,
        reason: "unsupported",
        message: "this is a legacy (pre-1.6, non-zip) PyTorch checkpoint, which is not read",
        remediation:
          "Re-save it with torch>=1.6 (torch.save(torch.load(path), path)) or convert it to safetensors " +
          "(safetensors.torch.save_file) and load that."
      })
    case undefined:
      return yield* new CheckpointError({
        file: path,
        reason: "unsupported",
        message: "not a safetensors file or a PyTorch zip checkpoint",
        remediation: "Point to a .safetensors file or a .bin/.pt file written by torch.save (torch>=1.6)."
      })
  }
})
