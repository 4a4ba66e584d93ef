/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range in the data section, then
 * the data. `decode` checks the header completely before it trusts it, and
 * returns tensors as zero-copy views into the input; `encode` writes the
 * layout the reference writer produces.
 *
 * @since 0.1.0
 */
import { Effect, Result, Schema } from "effect"
import { ByteReader, decodeUtf8 } from "./ByteReader.ts"
import { attempt, type CheckpointError, fail, inMemory } from "./CheckpointError.ts"
import { bytesPerElement, type DType, numel, type Tensor, type Weights } from "./Tensor.ts"

export interface Safetensors {
  readonly tensors: Weights
  /** The header's free-form `__metadata__` (string to string), empty when absent. */
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

interface Entry {
  readonly name: string
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  readonly begin: number
  readonly end: number
}

const parseHeader = (reader: ByteReader): unknown => {
  const length = reader.u64("the header length")
  if (length > maxHeaderBytes) {
    fail(reader.file, "header", `the header claims ${length} bytes, more than the ${maxHeaderBytes} allowed`)
  }
  const text = decodeUtf8(reader.take(length, "the JSON header"), reader.file, "the header")
  if (!text.startsWith("{")) fail(reader.file, "header", "the header is not a JSON object")
  try {
    return JSON.parse(text)
  } catch (error) {
    return fail(reader.file, "header", `the header is not valid JSON: ${(error as Error).message}`)
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

const decodeSync = (bytes: Uint8Array, file: string): Safetensors => {
  const reader = new ByteReader(bytes, file)
  const header = decodeHeader(parseHeader(reader))
  if (Result.isFailure(header)) return fail(file, "header", "the header is not a JSON object")
  const data = bytes.subarray(reader.offset)
  let metadata: Readonly<Record<string, string>> = {}
  const entries: Array<Entry> = []
  for (const [name, raw] of Object.entries(header.success)) {
    if (name === "__metadata__") {
      const decoded = decodeMetadata(raw)
      if (Result.isFailure(decoded)) return fail(file, "header", "__metadata__ must map strings to strings")
      metadata = decoded.success
    } else {
      entries.push(toEntry(file, name, raw, data.byteLength))
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
  if (cursor !== data.byteLength) {
    fail(file, "overlap", `the tensors cover ${cursor} bytes but the data section holds ${data.byteLength}`)
  }
  const tensors = new Map<string, Tensor>()
  for (const { name, dtype, shape, begin, end } of entries) {
    tensors.set(name, { dtype, shape, data: data.subarray(begin, end) })
  }
  return { tensors, metadata }
}

/** Decodes and validates a safetensors file; tensors are views into `bytes`. */
export const decode = (bytes: Uint8Array, file: string = inMemory): Effect.Effect<Safetensors, CheckpointError> =>
  attempt(() => decodeSync(bytes, file))

/**
 * Encodes tensors as safetensors. Like the reference writer, tensors are laid
 * out by descending element size, then name, and the header is padded with
 * spaces to a multiple of 8, so every tensor starts aligned to its element size.
 * Throws a RangeError for a tensor whose data length does not match its shape
 * (a programming error: `Tensor.make` rules it out).
 */
export const encode = (tensors: Weights, metadata?: Readonly<Record<string, string>>): Uint8Array => {
  const names = [...tensors.keys()].sort((a, b) => {
    const bySize = bytesPerElement(tensors.get(b)!.dtype) - bytesPerElement(tensors.get(a)!.dtype)
    return bySize !== 0 ? bySize : a < b ? -1 : a > b ? 1 : 0
  })
  const header: Record<string, unknown> = {}
  if (metadata !== undefined) header.__metadata__ = metadata
  let offset = 0
  for (const name of names) {
    const tensor = tensors.get(name)!
    const length = numel(tensor.shape) * bytesPerElement(tensor.dtype)
    if (length !== tensor.data.byteLength) {
      throw new RangeError(`tensor "${name}" is ${tensor.dtype}${JSON.stringify(tensor.shape)} but holds ${tensor.data.byteLength} bytes`)
    }
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + length] }
    offset += length
  }
  const json = new TextEncoder().encode(JSON.stringify(header))
  const headerLength = Math.ceil(json.byteLength / 8) * 8
  const out = new Uint8Array(8 + headerLength + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true)
  out.set(json, 8)
  out.fill(0x20, 8 + json.byteLength, 8 + headerLength)
  let cursor = 8 + headerLength
  for (const name of names) {
    const data = tensors.get(name)!.data
    out.set(data, cursor)
    cursor += data.byteLength
  }
  return out
}
