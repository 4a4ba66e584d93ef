/**
 * PyTorch checkpoints in the zip format `torch.save` writes since 1.6
 * (`pytorch_model.bin`, suno's `.pt`): `<archive>/data.pkl` is a pickle whose
 * persistent ids name raw little-endian storages stored as
 * `<archive>/data/<key>`. The pickle runs on the restricted unpickler with an
 * allowlist of tensor-rebuild functions, storage types, `OrderedDict`,
 * `torch.Size` and the NumPy scalar globals suno's files contain; callers may
 * allow more names explicitly.
 *
 * Tensors honour their storage offset, shape and strides. Contiguous tensors
 * are views into the file's bytes, so names that share a storage share bytes;
 * strided views are copied into C order, within a budget proportional to the
 * file size (an expanded view could otherwise claim any amount of memory).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { attempt, fail, inMemory } from "./CheckpointError.ts"
import { PyGlobal, PyObject, qualifiedName, type SafeGlobal, unpickle } from "./pickle.ts"
import { extent, gather, isContiguous } from "./strided.ts"
import { bytesPerElement, type DType, halfToFloat, numel, type Tensor, type Weights } from "./Tensor.ts"
import { readZip, type ZipEntries } from "./zip.ts"

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

class Storage {
  readonly dtype: DType
  readonly data: Uint8Array

  constructor(dtype: DType, data: Uint8Array) {
    this.dtype = dtype
    this.data = data
  }
}

/** A rebuilt tensor; a class so that flattening tells it apart from other pickled values. */
class TorchTensor {
  readonly tensor: Tensor

  constructor(tensor: Tensor) {
    this.tensor = tensor
  }
}

/** Storage type names (module torch, or torch.cuda in old files) and their element dtypes. */
const storageTypes: ReadonlyMap<string, DType> = new Map([
  ["DoubleStorage", "F64"], ["FloatStorage", "F32"], ["HalfStorage", "F16"], ["BFloat16Storage", "BF16"],
  ["LongStorage", "I64"], ["IntStorage", "I32"], ["ShortStorage", "I16"], ["CharStorage", "I8"],
  ["ByteStorage", "U8"], ["BoolStorage", "BOOL"], ["UntypedStorage", "U8"]
])

const maxNesting = 64

const isIndexList = (value: unknown): value is ReadonlyArray<number> =>
  Array.isArray(value) && value.every((v) => Number.isSafeInteger(v) && v >= 0)

/** Decodes a pickled NumPy scalar (`numpy.core.multiarray.scalar(dtype, bytes)`) into a number; other kinds stay inert. */
const numpyScalar = (module: string, args: ReadonlyArray<unknown>): unknown => {
  const [dtype, raw] = args
  const inert = new PyObject(module, "scalar", args)
  if (!(dtype instanceof PyObject) || typeof dtype.args[0] !== "string" || !(raw instanceof Uint8Array)) return inert
  const code = dtype.args[0]
  const littleEndian = !(Array.isArray(dtype.state) && dtype.state[1] === ">")
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  const readers: Record<string, readonly [number, () => number | bigint | boolean]> = {
    f8: [8, () => view.getFloat64(0, littleEndian)],
    f4: [4, () => view.getFloat32(0, littleEndian)],
    f2: [2, () => halfToFloat(view.getUint16(0, littleEndian))],
    i8: [8, () => view.getBigInt64(0, littleEndian)],
    i4: [4, () => view.getInt32(0, littleEndian)],
    i2: [2, () => view.getInt16(0, littleEndian)],
    i1: [1, () => view.getInt8(0)],
    u8: [8, () => view.getBigUint64(0, littleEndian)],
    u4: [4, () => view.getUint32(0, littleEndian)],
    u2: [2, () => view.getUint16(0, littleEndian)],
    u1: [1, () => view.getUint8(0)],
    b1: [1, () => view.getUint8(0) !== 0]
  }
  const reader = readers[code]
  if (reader === undefined || reader[0] !== raw.byteLength) return inert
  const value = reader[1]()
  return typeof value === "bigint" && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value
}

/** The globals a torch or suno checkpoint needs, bound to one archive's storages. */
const torchGlobals = (file: string, budget: { remaining: number }): Array<SafeGlobal> => {
  const rebuild = (args: ReadonlyArray<unknown>): TorchTensor => {
    const [storage, offset, shape, strides] = args
    if (!(storage instanceof Storage)) return fail(file, "pickle", "_rebuild_tensor got no storage")
    if (!Number.isSafeInteger(offset) || (offset as number) < 0 || !isIndexList(shape) || !isIndexList(strides)) {
      return fail(file, "pickle", "_rebuild_tensor got a malformed offset, size or stride")
    }
    if (shape.length !== strides.length) return fail(file, "pickle", "_rebuild_tensor got sizes and strides of different ranks")
    const { dtype, data } = storage
    const width = bytesPerElement(dtype)
    const start = offset as number
    if (extent(shape, strides, start) * width > data.byteLength) {
      return fail(file, "bounds", `a ${dtype}${JSON.stringify(shape)} tensor at storage offset ${start} reaches past its ${data.byteLength}-byte storage`)
    }
    const count = numel(shape)
    if (isContiguous(shape, strides)) {
      return new TorchTensor({ dtype, shape, data: data.subarray(start * width, (start + count) * width) })
    }
    budget.remaining -= count * width
    if (budget.remaining < 0) {
      return fail(file, "bounds", `strided tensors would expand to more memory than the checkpoint's own size allows`,
        "Re-save the checkpoint with contiguous tensors (tensor.contiguous()) or convert it to safetensors.")
    }
    return new TorchTensor({ dtype, shape, data: gather(data, width, shape, strides, start) })
  }
  const firstArgument = (args: ReadonlyArray<unknown>): unknown =>
    args[0] instanceof TorchTensor ? args[0] : fail(file, "pickle", "_rebuild_parameter got no tensor")
  const orderedDict = (args: ReadonlyArray<unknown>): Map<unknown, unknown> => {
    const dict = new Map<unknown, unknown>()
    for (const pair of Array.isArray(args[0]) ? args[0] : []) {
      if (!Array.isArray(pair) || pair.length !== 2) return fail(file, "pickle", "OrderedDict got items that are not pairs")
      dict.set(pair[0], pair[1])
    }
    return dict
  }
  const latin1 = (args: ReadonlyArray<unknown>): Uint8Array => {
    const [text, encoding] = args
    if (typeof text !== "string" || (encoding !== "latin1" && encoding !== "latin-1")) {
      return fail(file, "pickle", "_codecs.encode is only allowed to turn a latin-1 string into bytes")
    }
    const out = new Uint8Array(text.length)
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i)
      if (code > 0xff) return fail(file, "pickle", "_codecs.encode got a character outside latin-1")
      out[i] = code
    }
    return out
  }
  const storages = [...storageTypes.keys()].flatMap((name) => [{ module: "torch", name }, { module: "torch.cuda", name }])
  const numpy = ["numpy.core.multiarray", "numpy._core.multiarray"].map((module) => ({
    module,
    name: "scalar",
    construct: (args: ReadonlyArray<unknown>) => numpyScalar(module, args)
  }))
  return [
    { module: "torch._utils", name: "_rebuild_tensor_v2", construct: rebuild },
    { module: "torch._utils", name: "_rebuild_tensor", construct: rebuild },
    { module: "torch._utils", name: "_rebuild_parameter", construct: firstArgument },
    { module: "torch._utils", name: "_rebuild_parameter_with_state", construct: firstArgument },
    { module: "collections", name: "OrderedDict", construct: orderedDict },
    { module: "torch", name: "Size", construct: (args) => isIndexList(args[0]) ? args[0] : fail(file, "pickle", "torch.Size got no sizes") },
    { module: "_codecs", name: "encode", construct: latin1 },
    { module: "numpy", name: "dtype" },
    ...numpy,
    ...storages
  ]
}

/** Resolves torch's persistent ids, ('storage', storage_type, key, location, numel), to the archive's records. */
const storageLoader = (file: string, entries: ZipEntries, prefix: string) => {
  const loaded = new Map<string, Storage>()
  return (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length !== 5) {
      return fail(file, "pickle", "a persistent id that is not a torch storage reference")
    }
    const [, type, key, , count] = pid
    const isTorch = type instanceof PyGlobal && (type.global.module === "torch" || type.global.module === "torch.cuda")
    const dtype = isTorch ? storageTypes.get(type.global.name) : undefined
    if (dtype === undefined || typeof key !== "string" || !Number.isSafeInteger(count)) {
      return fail(file, "pickle", "a malformed torch storage reference")
    }
    const cached = loaded.get(key)
    if (cached !== undefined) return cached
    const data = entries.get(`${prefix}data/${key}`)
    if (data === undefined) return fail(file, "zip", `storage ${key} is referenced but ${prefix}data/${key} is missing`)
    if (data.byteLength !== (count as number) * bytesPerElement(dtype)) {
      return fail(file, "bounds", `storage ${key} should hold ${count} ${dtype} elements but has ${data.byteLength} bytes`)
    }
    const storage = new Storage(dtype, data)
    loaded.set(key, storage)
    return storage
  }
}

/** The archive folder (with its trailing "/") holding data.pkl. */
const archivePrefix = (file: string, entries: ZipEntries): string => {
  const pickles = [...entries.keys()].filter((name) => /^[^/]*\/data\.pkl$/.test(name))
  if (pickles.length !== 1) {
    return fail(file, "unsupported", pickles.length === 0
      ? "a zip file without <archive>/data.pkl is not a PyTorch checkpoint"
      : "the zip holds several PyTorch archives")
  }
  const prefix = pickles[0]!.slice(0, -"data.pkl".length)
  const byteorder = entries.get(`${prefix}byteorder`)
  if (byteorder !== undefined && new TextDecoder().decode(byteorder).trim() !== "little") {
    fail(file, "unsupported", "big-endian torch checkpoints are not supported", "Re-save the checkpoint on a little-endian machine or convert it to safetensors.")
  }
  return prefix
}

/**
 * Splits the unpickled root into tensors and other data, both keyed by dotted
 * path. Through the memo a pickle can reference one container many times (a
 * list holding itself, lists of lists of one list), so the walk is bounded in
 * depth and in the number of values it visits, in proportion to the pickle.
 */
const flatten = (root: unknown, file: string, maxSteps: number): TorchCheckpoint => {
  let steps = 0
  const step = (depth: number) => {
    if (depth > maxNesting) fail(file, "unsupported", `the checkpoint nests data deeper than ${maxNesting} levels`)
    if (++steps > maxSteps) {
      fail(file, "unsupported", `the pickled data expands to more than ${maxSteps} values (one container referenced many times)`)
    }
  }
  const holding = new Map<object, boolean>()
  const holdsTensor = (value: unknown, depth: number): boolean => {
    if (value instanceof TorchTensor) return true
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
    if (value instanceof Storage) return { __class__: "torch.Storage", dtype: value.dtype, bytes: value.data.byteLength }
    return value
  }
  const tensors = new Map<string, Tensor>()
  const extra: Array<readonly [string, unknown]> = []
  const visit = (value: unknown, path: string, depth: number) => {
    step(depth)
    if (value instanceof TorchTensor) {
      tensors.set(path, value.tensor)
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
 * Loads a PyTorch zip checkpoint held in memory. Only allowlisted globals are
 * resolved and nothing is executed; a bare tensor is returned under the name "".
 */
export const loadTorchCheckpoint = Effect.fn("loadTorchCheckpoint")(function*(bytes: Uint8Array, options: TorchLoadOptions = {}) {
  const file = options.file ?? inMemory
  const entries = yield* readZip(bytes, file)
  const prefix = yield* attempt(() => archivePrefix(file, entries))
  const budget = { remaining: 2 * bytes.byteLength }
  const pickle = entries.get(`${prefix}data.pkl`)!
  const root = yield* unpickle(pickle, {
    file,
    globals: [...torchGlobals(file, budget), ...(options.allow ?? [])],
    persistentLoad: storageLoader(file, entries, prefix)
  })
  return yield* attempt(() => flatten(root, file, 4 * pickle.byteLength + 10_000))
})
