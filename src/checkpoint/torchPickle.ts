/**
 * What a PyTorch checkpoint's `data.pkl` may refer to, and what it becomes.
 * The allowlist: tensor-rebuild functions, storage types, `OrderedDict`,
 * `torch.Size`, `_codecs.encode` for latin-1 bytes and the NumPy scalar
 * globals suno's files contain. Persistent ids become `StorageRef`s (the zip
 * entry holding the storage, checked against the element count the pickle
 * declares) and rebuilt tensors become `TensorRef`s (storage, offset, shape,
 * strides, bounds checked against the storage), so unpickling reads no
 * tensor data; `materialize` turns a ref and its storage's bytes into a tensor.
 *
 * @since 0.2.0
 */
import { fail } from "./CheckpointError.ts"
import { PyGlobal, PyObject, type SafeGlobal } from "./pickle.ts"
import { extent, gather, isContiguous } from "./strided.ts"
import { bytesPerElement, type DType, halfToFloat, numel, type Tensor } from "./Tensor.ts"
import type { ZipDirectory, ZipEntry } from "./zip.ts"

/** A storage the pickle refers to: `count` elements of `dtype` in the zip entry `entry`. */
export class StorageRef {
  readonly key: string
  readonly dtype: DType
  readonly count: number
  readonly entry: ZipEntry

  constructor(key: string, dtype: DType, count: number, entry: ZipEntry) {
    this.key = key
    this.dtype = dtype
    this.count = count
    this.entry = entry
  }

  get byteLength(): number {
    return this.count * bytesPerElement(this.dtype)
  }
}

/** A rebuilt tensor: a view of a storage; a class so that flattening tells it apart from other pickled values. */
export class TensorRef {
  readonly storage: StorageRef
  /** In elements, as torch counts them. */
  readonly offset: number
  readonly shape: ReadonlyArray<number>
  readonly strides: ReadonlyArray<number>

  constructor(storage: StorageRef, offset: number, shape: ReadonlyArray<number>, strides: ReadonlyArray<number>) {
    this.storage = storage
    this.offset = offset
    this.shape = shape
    this.strides = strides
  }

  get dtype(): DType {
    return this.storage.dtype
  }

  get contiguous(): boolean {
    return isContiguous(this.shape, this.strides)
  }
}

/**
 * The tensor a ref describes, given its storage's bytes: a view into them when
 * contiguous, else a C-order copy (`strided.gather`).
 */
export const materialize = (ref: TensorRef, storage: Uint8Array): Tensor => {
  const { dtype, shape, strides, offset } = ref
  const width = bytesPerElement(dtype)
  const data = ref.contiguous
    ? storage.subarray(offset * width, (offset + numel(shape)) * width)
    : gather(storage, width, shape, strides, offset)
  return { dtype, shape, data }
}

/** Storage type names (module torch, or torch.cuda in old files) and their element dtypes. */
const storageTypes: ReadonlyMap<string, DType> = new Map([
  ["DoubleStorage", "F64"], ["FloatStorage", "F32"], ["HalfStorage", "F16"], ["BFloat16Storage", "BF16"],
  ["LongStorage", "I64"], ["IntStorage", "I32"], ["ShortStorage", "I16"], ["CharStorage", "I8"],
  ["ByteStorage", "U8"], ["BoolStorage", "BOOL"], ["UntypedStorage", "U8"]
])

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

/**
 * The globals a torch or suno checkpoint needs. Strided tensors will be copied
 * when read, so together they may claim at most `budget.remaining` bytes (an
 * expanded view could otherwise claim any amount of memory).
 */
export const torchGlobals = (file: string, budget: { remaining: number }): Array<SafeGlobal> => {
  const rebuild = (args: ReadonlyArray<unknown>): TensorRef => {
    const [storage, offset, shape, strides] = args
    if (!(storage instanceof StorageRef)) return fail(file, "pickle", "_rebuild_tensor got no storage")
    if (!Number.isSafeInteger(offset) || (offset as number) < 0 || !isIndexList(shape) || !isIndexList(strides)) {
      return fail(file, "pickle", "_rebuild_tensor got a malformed offset, size or stride")
    }
    if (shape.length !== strides.length) return fail(file, "pickle", "_rebuild_tensor got sizes and strides of different ranks")
    const ref = new TensorRef(storage, offset as number, shape, strides)
    const width = bytesPerElement(storage.dtype)
    if (extent(shape, strides, ref.offset) * width > storage.byteLength) {
      return fail(file, "bounds", `a ${storage.dtype}${JSON.stringify(shape)} tensor at storage offset ${ref.offset} reaches past its ${storage.byteLength}-byte storage`)
    }
    if (!ref.contiguous) {
      budget.remaining -= numel(shape) * width
      if (budget.remaining < 0) {
        return fail(file, "bounds", `strided tensors would expand to more memory than the checkpoint's own size allows`,
          "Re-save the checkpoint with contiguous tensors (tensor.contiguous()) or convert it to safetensors.")
      }
    }
    return ref
  }
  const firstArgument = (args: ReadonlyArray<unknown>): unknown =>
    args[0] instanceof TensorRef ? args[0] : fail(file, "pickle", "_rebuild_parameter got no tensor")
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

/**
 * Resolves torch's persistent ids, ('storage', storage_type, key, location, numel),
 * to the archive's entries `<prefix>data/<key>`, whose size must match.
 */
export const storageLoader = (file: string, directory: ZipDirectory, prefix: string) => {
  const loaded = new Map<string, StorageRef>()
  return (pid: unknown): StorageRef => {
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
    const entry = directory.get(`${prefix}data/${key}`)
    if (entry === undefined) return fail(file, "zip", `storage ${key} is referenced but ${prefix}data/${key} is missing`)
    const storage = new StorageRef(key, dtype, count as number, entry)
    if (entry.size !== storage.byteLength) {
      return fail(file, "bounds", `storage ${key} should hold ${count} ${dtype} elements but has ${entry.size} bytes`)
    }
    loaded.set(key, storage)
    return storage
  }
}
