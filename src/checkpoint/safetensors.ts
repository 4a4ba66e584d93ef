/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range in the data section, then
 * the data. `readHeader` reads only the length and the header from a byte
 * source and checks the header completely before it trusts it; `readTensor`
 * then reads one tensor's bytes. `decode` is the two over bytes in memory,
 * returning tensors as zero-copy views; `encode` writes the layout the
 * reference writer produces.
 *
 * @since 0.1.0
 */
import { Effect, Result, Schema } from "effect"
import { ByteReader, decodeUtf8 } from "./ByteReader.ts"
import { type ByteSource, fromBytes } from "./ByteSource.ts"
import { attempt, type CheckpointError, fail, inMemory } from "./CheckpointError.ts"
import { bytesPerElement, type DType, numel, type Tensor, type Weights } from "./Tensor.ts"

export interface Safetensors {
  readonly tensors: Weights
  /** The header's free-form `__metadata__` (string to string), empty when absent. */
  readonly metadata: Readonly<Record<string, string>>
}

/** Where one tensor lies in the file, as the validated header says. */
export interface SafetensorsEntry {
  readonly name: string
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  /** Absolute file offset of the tensor's first byte. */
  readonly offset: number
  readonly byteLength: number
}

export interface SafetensorsHeader {
  /** Every tensor, in file order; their ranges tile the data section exactly. */
  readonly entries: ReadonlyArray<SafetensorsEntry>
  readonly metadata: Readonly<Record<string, string>>
}

/** The reference implementation's limit; real headers are a few hundred kB. */
export const maxHeaderBytes = 100_000_000

const dtypes: ReadonlySet<string> = new Set<DType>(["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U16", "U8", "BOOL"])

const Size = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(Number.MAX_SAFE_INTEGER))

const TensorInfo = Schema.Struct({
  dtype: Schema.String,
  shape: Schema.Array(Size),
  data_offsets: Schema.Tuple([Size, Size])
})

const Header = Schema.Record(Schema.String, Schema.Unknown)
const Metadata = Schema.Record(Schema.String, Schema.String)

const decodeHeader = Schema.decodeUnknownResult(Header)
const decodeInfo = Schema.decodeUnknownResult(TensorInfo)
const decodeMetadata = Schema.decodeUnknownResult(Metadata)

/** Offsets relative to the data section, as the header states them. */
interface Entry {
  readonly name: string
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  readonly begin: number
  readonly end: number
}

const declaredLength = (prefix: Uint8Array, file: string): number => {
  const length = new ByteReader(prefix, file).u64("the header length")
  if (length > maxHeaderBytes) {
    fail(file, "header", `the header claims ${length} bytes, more than the ${maxHeaderBytes} allowed`)
  }
  return length
}

const parseJson = (json: Uint8Array, file: string): unknown => {
  const text = decodeUtf8(json, file, "the header")
  if (!text.startsWith("{")) fail(file, "header", "the header is not a JSON object")
  try {
    return JSON.parse(text)
  } catch (error) {
    return fail(file, "header", `the header is not valid JSON: ${(error as Error).message}`)
  }
}

const toEntry = (file: string, name: string, raw: unknown, dataLength: number): Entry => {
  const info = decodeInfo(raw)
  if (Result.isFailure(info)) {
    return fail(file, "header", `tensor "${name}" has a malformed header entry: ${info.failure.message}`)
  }
  const { dtype, shape, data_offsets: [begin, end] } = info.success
  if (!dtypes.has(dtype)) return fail(file, "dtype", `tensor "${name}" has dtype ${dtype}, which is not supported`)
  if (begin > end || end > dataLength) {
    fail(file, "bounds", `tensor "${name}" spans bytes [${begin}, ${end}) of a ${dataLength}-byte data section`)
  }
  const expected = numel(shape) * bytesPerElement(dtype as DType)
  if (expected !== end - begin) {
    fail(file, "bounds", `tensor "${name}" is ${dtype}${JSON.stringify(shape)} (${expected} bytes) but spans ${end - begin} bytes`)
  }
  return { name, dtype: dtype as DType, shape, begin, end }
}

/** Checks the parsed header against a data section of `dataLength` bytes starting at file offset `dataOffset`. */
const validate = (json: unknown, file: string, dataOffset: number, dataLength: number): SafetensorsHeader => {
  const header = decodeHeader(json)
  if (Result.isFailure(header)) return fail(file, "header", "the header is not a JSON object")
  let metadata: Readonly<Record<string, string>> = {}
  const entries: Array<Entry> = []
  for (const [name, raw] of Object.entries(header.success)) {
    if (name === "__metadata__") {
      const decoded = decodeMetadata(raw)
      if (Result.isFailure(decoded)) return fail(file, "header", "__metadata__ must map strings to strings")
      metadata = decoded.success
    } else {
      entries.push(toEntry(file, name, raw, dataLength))
    }
  }
  // The ranges must tile the data section exactly: no gaps (hidden payloads), no overlaps (aliasing).
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end)
  let cursor = 0
  for (const entry of entries) {
    if (entry.begin !== cursor) {
      const problem = entry.begin < cursor ? "overlaps the previous tensor" : `leaves a gap after byte ${cursor}`
      fail(file, "overlap", `tensor "${entry.name}" starts at byte ${entry.begin} and ${problem}`)
    }
    cursor = entry.end
  }
  if (cursor !== dataLength) {
    fail(file, "overlap", `the tensors cover ${cursor} bytes but the data section holds ${dataLength}`)
  }
  return {
    entries: entries.map(({ name, dtype, shape, begin, end }) => ({ name, dtype, shape, offset: dataOffset + begin, byteLength: end - begin })),
    metadata
  }
}

/** Reads and validates the header (the 8-byte length and the JSON) of a safetensors source; no tensor data. */
export const readHeader = (source: ByteSource): Effect.Effect<SafetensorsHeader, CheckpointError> =>
  Effect.gen(function*() {
    const { file } = source
    const length = yield* Effect.flatMap(source.read(0, 8, "the header length"), (prefix) => attempt(() => declaredLength(prefix, file)))
    const json = yield* source.read(8, length, "the JSON header")
    return yield* attempt(() => validate(parseJson(json, file), file, 8 + length, source.size - 8 - length))
  })

/** Reads one tensor's bytes. */
export const readTensor = (source: ByteSource, entry: SafetensorsEntry): Effect.Effect<Tensor, CheckpointError> =>
  Effect.map(source.read(entry.offset, entry.byteLength, `the data of tensor "${entry.name}"`), (data) => ({
    dtype: entry.dtype,
    shape: entry.shape,
    data
  }))

/** Decodes and validates a safetensors file; tensors are views into `bytes`. */
export const decode = (bytes: Uint8Array, file: string = inMemory): Effect.Effect<Safetensors, CheckpointError> =>
  Effect.gen(function*() {
    const source = fromBytes(bytes, file)
    const { entries, metadata } = yield* readHeader(source)
    const tensors = new Map<string, Tensor>()
    for (const entry of entries) tensors.set(entry.name, yield* readTensor(source, entry))
    return { tensors, metadata }
  })

/** What the header needs to know of a tensor. */
export interface TensorLayout {
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
}

/**
 * The bytes before the data section (the 8-byte length and the JSON header)
 * for tensors of these dtypes and shapes, and the order their data must
 * follow in. Like the reference writer, tensors are laid out by descending
 * element size, then name, and the header is padded with spaces to a multiple
 * of 8, so every tensor starts aligned to its element size. A writer can
 * stream the data after it, tensor by tensor.
 */
export const encodeHeader = (
  tensors: ReadonlyMap<string, TensorLayout>,
  metadata?: Readonly<Record<string, string>>
): { readonly header: Uint8Array; readonly order: ReadonlyArray<string>; readonly dataBytes: number } => {
  const order = [...tensors.keys()].sort((a, b) => {
    const bySize = bytesPerElement(tensors.get(b)!.dtype) - bytesPerElement(tensors.get(a)!.dtype)
    return bySize !== 0 ? bySize : a < b ? -1 : a > b ? 1 : 0
  })
  const json: Record<string, unknown> = {}
  if (metadata !== undefined) json.__metadata__ = metadata
  let offset = 0
  for (const name of order) {
    const { dtype, shape } = tensors.get(name)!
    const length = numel(shape) * bytesPerElement(dtype)
    json[name] = { dtype, shape, data_offsets: [offset, offset + length] }
    offset += length
  }
  const text = new TextEncoder().encode(JSON.stringify(json))
  const padded = Math.ceil(text.byteLength / 8) * 8
  const header = new Uint8Array(8 + padded)
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true)
  header.set(text, 8)
  header.fill(0x20, 8 + text.byteLength)
  return { header, order, dataBytes: offset }
}

/**
 * Encodes tensors as safetensors: `encodeHeader`, then the data in its order.
 * Throws a RangeError for a tensor whose data length does not match its shape
 * (a programming error: `Tensor.make` rules it out).
 */
export const encode = (tensors: Weights, metadata?: Readonly<Record<string, string>>): Uint8Array => {
  for (const [name, tensor] of tensors) {
    if (numel(tensor.shape) * bytesPerElement(tensor.dtype) !== tensor.data.byteLength) {
      throw new RangeError(`tensor "${name}" is ${tensor.dtype}${JSON.stringify(tensor.shape)} but holds ${tensor.data.byteLength} bytes`)
    }
  }
  const { header, order, dataBytes } = encodeHeader(tensors, metadata)
  const out = new Uint8Array(header.byteLength + dataBytes)
  out.set(header)
  let cursor = header.byteLength
  for (const name of order) {
    const data = tensors.get(name)!.data
    out.set(data, cursor)
    cursor += data.byteLength
  }
  return out
}
