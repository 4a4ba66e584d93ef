/**
 * Loading a checkpoint file whole: reads it into memory (files past 2 GiB
 * included, which a single `readFile` cannot), recognises the format from its
 * first bytes and decodes every tensor, through the same `readerOf` as
 * `openCheckpoint`. Safetensors and PyTorch's zip format are read; the legacy
 * pre-1.6 torch format is refused with directions to convert it. To hold less
 * than the whole file, use `openCheckpoint` (reader.ts).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { fromBytes, readWholeFile } from "./ByteSource.ts"
import type { CheckpointFormat } from "./format.ts"
import { type LoadOptions, readerOf } from "./reader.ts"
import type { Weights } from "./Tensor.ts"

export type { CheckpointFormat } from "./format.ts"
export type { LoadOptions } from "./reader.ts"

export interface LoadedCheckpoint {
  readonly format: CheckpointFormat
  /** The tensors; where the format allows, views into `bytes`. */
  readonly tensors: Weights
  /** Non-tensor data: safetensors `__metadata__`, or the torch pickle's other values by dotted path. */
  readonly extra: Readonly<Record<string, unknown>>
  /** The whole file, e.g. for hashing; the tensors keep it alive anyway. */
  readonly bytes: Uint8Array
}

/** Reads and validates a checkpoint: safetensors or a PyTorch zip checkpoint (`.bin`, `.pt`, `.pth`). */
export const loadCheckpoint = Effect.fn("loadCheckpoint")(function*(path: string, options: LoadOptions = {}) {
  const bytes = yield* readWholeFile(path)
  const reader = yield* readerOf(fromBytes(bytes, path), options)
  const tensors = yield* reader.read(reader.tensors.keys())
  return { format: reader.format, tensors, extra: reader.extra, bytes } satisfies LoadedCheckpoint
})
