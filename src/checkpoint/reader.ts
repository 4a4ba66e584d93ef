/**
 * A checkpoint opened for reading tensor by tensor: the names, dtypes and
 * shapes are known from the start (the safetensors header, the torch
 * pickle), and `read` fetches only the tensors asked for. Conversion reads
 * one sub-model at a time this way, so memory holds one sub-model's weights,
 * never the whole checkpoint.
 *
 * @since 0.2.0
 */
import { Effect, type FileSystem, type Scope } from "effect"
import type { CheckpointError } from "./CheckpointError.ts"
import { type CheckpointFormat, loadCheckpoint, type LoadOptions } from "./load.ts"
import type { DType, Tensor, Weights } from "./Tensor.ts"

export interface TensorInfo {
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
}

export interface CheckpointReader {
  readonly file: string
  readonly format: CheckpointFormat
  /** Every tensor's dtype and shape, by name; no data. */
  readonly tensors: ReadonlyMap<string, TensorInfo>
  /** Non-tensor data, as `LoadedCheckpoint.extra`. */
  readonly extra: Readonly<Record<string, unknown>>
  /** Reads the named tensors (validated as `loadCheckpoint` validates them); unknown names are skipped. */
  readonly read: (names: Iterable<string>) => Effect.Effect<Weights, CheckpointError>
}

/** Opens `path` (safetensors or a PyTorch zip checkpoint); the file is closed with the scope. */
export const openCheckpoint = (
  path: string,
  options: LoadOptions = {}
): Effect.Effect<CheckpointReader, CheckpointError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.map(loadCheckpoint(path, options), (checkpoint) => ({
    file: path,
    format: checkpoint.format,
    tensors: new Map([...checkpoint.tensors].map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape }])),
    extra: checkpoint.extra,
    read: (names) =>
      Effect.sync(() => {
        const picked = new Map<string, Tensor>()
        for (const name of names) {
          const tensor = checkpoint.tensors.get(name)
          if (tensor !== undefined) picked.set(name, tensor)
        }
        return picked
      })
  }))
