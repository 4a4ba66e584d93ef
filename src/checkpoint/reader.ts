/**
 * A checkpoint opened for reading tensor by tensor: the names, dtypes and
 * shapes are known from the start (the safetensors header, the torch
 * pickle), and `read` fetches only the tensors asked for. Conversion reads
 * one sub-model at a time this way, so memory holds one sub-model's weights,
 * never the whole checkpoint.
 *
 * `openCheckpoint` keeps the file open (closed with the scope) and reads by
 * position: at open, a safetensors file's length prefix and JSON header, or a
 * torch zip's end records, central directory and `data.pkl`; at `read`, each
 * requested tensor's byte range, or each needed storage entry. `readerOf`
 * does the same over any `ByteSource`; `loadCheckpoint` uses it over the
 * whole file in memory, so both paths decode and validate identically.
 *
 * @since 0.2.0
 */
import { Effect, type FileSystem, type Scope } from "effect"
import { type ByteSource, openFile } from "./ByteSource.ts"
import type { CheckpointError } from "./CheckpointError.ts"
import { type CheckpointFormat, detectFormat } from "./format.ts"
import type { SafeGlobal } from "./pickle.ts"
import { readHeader, readTensor } from "./safetensors.ts"
import type { DType, Tensor, Weights } from "./Tensor.ts"
import { openTorchArchive, readTorchTensors } from "./torch.ts"

export type { CheckpointFormat } from "./format.ts"

export interface LoadOptions {
  /** Further pickle globals to allow in torch checkpoints (see `loadTorchCheckpoint`). */
  readonly allow?: ReadonlyArray<SafeGlobal>
}

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

const infoOf = ({ dtype, shape }: TensorInfo): TensorInfo => ({ dtype, shape })

/** A reader over any byte source: the format's header or directory is read and validated now, tensors on `read`. */
export const readerOf = Effect.fn("readerOf")(function*(source: ByteSource, options: LoadOptions = {}) {
  const format = yield* detectFormat(source)
  if (format === "safetensors") {
    const { entries, metadata } = yield* readHeader(source)
    const byName = new Map(entries.map((entry) => [entry.name, entry]))
    return {
      file: source.file,
      format,
      tensors: new Map(entries.map((entry) => [entry.name, infoOf(entry)])),
      extra: metadata,
      read: (names) =>
        Effect.gen(function*() {
          const out = new Map<string, Tensor>()
          for (const name of names) {
            const entry = byName.get(name)
            if (entry !== undefined && !out.has(name)) out.set(name, yield* readTensor(source, entry))
          }
          return out
        })
    } satisfies CheckpointReader
  }
  const archive = yield* openTorchArchive(source, options)
  return {
    file: source.file,
    format,
    tensors: new Map([...archive.tensors].map(([name, ref]) => [name, infoOf(ref)])),
    extra: archive.extra,
    read: (names) => readTorchTensors(archive, names)
  } satisfies CheckpointReader
})

/** Opens `path` (safetensors or a PyTorch zip checkpoint); the file is closed with the scope. */
export const openCheckpoint = (
  path: string,
  options: LoadOptions = {}
): Effect.Effect<CheckpointReader, CheckpointError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.flatMap(openFile(path), (source) => readerOf(source, options))
