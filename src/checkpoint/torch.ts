/**
 * PyTorch checkpoints in the zip format `torch.save` writes since 1.6
 * (`pytorch_model.bin`, suno's `.pt`): `<archive>/data.pkl` is a pickle whose
 * persistent ids name raw little-endian storages stored as
 * `<archive>/data/<key>`. The pickle runs on the restricted unpickler with the
 * allowlist of `torchPickle.ts`; callers may allow more names explicitly.
 *
 * `openTorchArchive` reads the zip directory and `data.pkl` only, and returns
 * every tensor as a `TensorRef` (storage entry, offset, shape, strides,
 * already bounds checked); `readTorchTensors` then reads just the storages the
 * named tensors need. Contiguous tensors are views into their storage's bytes
 * (into the file's bytes when the source is in memory), so names that share a
 * storage share bytes; strided views are copied into C order, within a budget
 * proportional to the file size. Entries nothing refers to are never read.
 * `loadTorchCheckpoint` is the two over bytes in memory.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { type ByteSource, fromBytes } from "./ByteSource.ts"
import { attempt, type CheckpointError, fail, inMemory } from "./CheckpointError.ts"
import { PyGlobal, PyObject, qualifiedName, type SafeGlobal, unpickle } from "./pickle.ts"
import type { Tensor, Weights } from "./Tensor.ts"
import { materialize, StorageRef, storageLoader, TensorRef, torchGlobals } from "./torchPickle.ts"
import { readDirectory, readEntry, type ZipDirectory } from "./zip.ts"

export interface TorchCheckpoint {
  /** Every tensor, named by its path through nested dicts and lists joined with "." ("model.lm_head.weight"). */
  readonly tensors: Weights
  /**
   * The non-tensor values by the same kind of path ("model_args", "iter_num"):
   * JSON-like data (numbers, strings, booleans, null, bigint, Uint8Array,
   * arrays, plain objects); inert objects as `{ __class__, args, state }`.
   */
  readonly extra: Readonly<Record<string, unknown>>
}

export interface TorchLoadOptions {
  /** Name used in errors. */
  readonly file?: string
  /** Further globals to allow, e.g. a custom config class; without `construct` they load as inert data. */
  readonly allow?: ReadonlyArray<SafeGlobal>
}

/** An opened torch checkpoint: its tensors as references into the archive, no tensor data yet. */
export interface TorchArchive {
  readonly source: ByteSource
  /** Every tensor by dotted path, as `TorchCheckpoint.tensors` names them. */
  readonly tensors: ReadonlyMap<string, TensorRef>
  readonly extra: Readonly<Record<string, unknown>>
}

const maxNesting = 64

/** The archive folder (with its trailing "/") holding data.pkl. */
const archivePrefix = (file: string, directory: ZipDirectory): string => {
  const pickles = [...directory.keys()].filter((name) => /^[^/]*\/data\.pkl$/.test(name))
  if (pickles.length !== 1) {
    return fail(file, "unsupported", pickles.length === 0
      ? "a zip file without <archive>/data.pkl is not a PyTorch checkpoint"
      : "the zip holds several PyTorch archives")
  }
  return pickles[0]!.slice(0, -"data.pkl".length)
}

const checkByteorder = (file: string, byteorder: Uint8Array): void => {
  if (new TextDecoder().decode(byteorder).trim() !== "little") {
    fail(file, "unsupported", "big-endian torch checkpoints are not supported", "Re-save the checkpoint on a little-endian machine or convert it to safetensors.")
  }
}

/**
 * Splits the unpickled root into tensors and other data, both keyed by dotted
 * path. Through the memo a pickle can reference one container many times (a
 * list holding itself, lists of lists of one list), so the walk is bounded in
 * depth and in the number of values it visits, in proportion to the pickle.
 */
const flatten = (root: unknown, file: string, maxSteps: number): Omit<TorchArchive, "source"> => {
  let steps = 0
  const step = (depth: number) => {
    if (depth > maxNesting) fail(file, "unsupported", `the checkpoint nests data deeper than ${maxNesting} levels`)
    if (++steps > maxSteps) {
      fail(file, "unsupported", `the pickled data expands to more than ${maxSteps} values (one container referenced many times)`)
    }
  }
  const holding = new Map<object, boolean>()
  const holdsTensor = (value: unknown, depth: number): boolean => {
    if (value instanceof TensorRef) return true
    if (!(value instanceof Map) && !Array.isArray(value)) return false
    const known = holding.get(value)
    if (known !== undefined) return known
    step(depth)
    const children: Array<unknown> = value instanceof Map ? [...value.values()] : value
    const holds = children.some((child) => holdsTensor(child, depth + 1))
    holding.set(value, holds)
    return holds
  }
  const toData = (value: unknown, depth: number): unknown => {
    step(depth)
    if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toData(v, depth + 1)]))
    if (Array.isArray(value)) return value.map((v) => toData(v, depth + 1))
    if (value instanceof PyObject) {
      return { __class__: qualifiedName(value), args: toData(value.args, depth + 1), state: toData(value.state, depth + 1) }
    }
    if (value instanceof PyGlobal) return { __class__: qualifiedName(value.global) }
    if (value instanceof StorageRef) return { __class__: "torch.Storage", dtype: value.dtype, bytes: value.byteLength }
    return value
  }
  const tensors = new Map<string, TensorRef>()
  const extra: Array<readonly [string, unknown]> = []
  const visit = (value: unknown, path: string, depth: number) => {
    step(depth)
    if (value instanceof TensorRef) {
      tensors.set(path, value)
    } else if (holdsTensor(value, depth)) {
      const children: Iterable<readonly [unknown, unknown]> = value instanceof Map ? value : (value as Array<unknown>).entries()
      for (const [key, child] of children) visit(child, path === "" ? String(key) : `${path}.${String(key)}`, depth + 1)
    } else {
      extra.push([path, toData(value, depth)])
    }
  }
  visit(root, "", 0)
  // fromEntries defines own properties, so a "__proto__" key stays plain data.
  return { tensors, extra: Object.fromEntries(extra) }
}

/**
 * Opens a PyTorch zip checkpoint: reads the zip directory, the byteorder
 * record and `data.pkl`, and unpickles it. Only allowlisted globals are
 * resolved and nothing is executed; a bare tensor is named "".
 */
export const openTorchArchive = Effect.fn("openTorchArchive")(function*(source: ByteSource, options: TorchLoadOptions = {}) {
  const { file } = source
  const directory = yield* readDirectory(source)
  const prefix = yield* attempt(() => archivePrefix(file, directory))
  const byteorder = directory.get(`${prefix}byteorder`)
  if (byteorder !== undefined) {
    const bytes = yield* readEntry(source, byteorder)
    yield* attempt(() => checkByteorder(file, bytes))
  }
  const pickle = yield* readEntry(source, directory.get(`${prefix}data.pkl`)!)
  const root = yield* unpickle(pickle, {
    file,
    globals: [...torchGlobals(file, { remaining: 2 * source.size }), ...(options.allow ?? [])],
    persistentLoad: storageLoader(file, directory, prefix)
  })
  const { tensors, extra } = yield* attempt(() => flatten(root, file, 4 * pickle.byteLength + 10_000))
  return { source, tensors, extra } satisfies TorchArchive
})

/**
 * Reads the named tensors (unknown names are skipped), each storage entry once
 * per call; tensors that are one pickled object come back as one `Tensor`.
 */
export const readTorchTensors = (archive: TorchArchive, names: Iterable<string>): Effect.Effect<Weights, CheckpointError> =>
  Effect.gen(function*() {
    const storages = new Map<StorageRef, Uint8Array>()
    const made = new Map<TensorRef, Tensor>()
    const out = new Map<string, Tensor>()
    for (const name of names) {
      const ref = archive.tensors.get(name)
      if (ref === undefined) continue
      let tensor = made.get(ref)
      if (tensor === undefined) {
        let storage = storages.get(ref.storage)
        if (storage === undefined) {
          storage = yield* readEntry(archive.source, ref.storage.entry)
          storages.set(ref.storage, storage)
        }
        tensor = materialize(ref, storage)
        made.set(ref, tensor)
      }
      out.set(name, tensor)
    }
    return out
  })

/** Loads a PyTorch zip checkpoint held in memory: every tensor, contiguous ones as views into `bytes`. */
export const loadTorchCheckpoint = Effect.fn("loadTorchCheckpoint")(function*(bytes: Uint8Array, options: TorchLoadOptions = {}) {
  const archive = yield* openTorchArchive(fromBytes(bytes, options.file ?? inMemory), options)
  const tensors = yield* readTorchTensors(archive, archive.tensors.keys())
  return { tensors, extra: archive.extra } satisfies TorchCheckpoint
})
