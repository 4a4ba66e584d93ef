/**
 * NumPy's `.npy` format: a magic string, a version, a Python-literal header
 * dict (`descr`, `fortran_order`, `shape`) and the raw array data. The reader
 * accepts format versions 1 to 3, either byte order and Fortran order, and
 * returns little-endian C-order tensors (a view into the input when no
 * conversion is needed). The writer emits version 1.0, little-endian, C order,
 * as `np.save` does.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { ByteReader, decodeUtf8 } from "./ByteReader.ts"
import { attempt, type CheckpointError, fail, inMemory } from "./CheckpointError.ts"
import { fortranStrides, gather, swapBytes } from "./strided.ts"
import { bytesPerElement, type DType, numel, type Tensor, toFloat32 } from "./Tensor.ts"

const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] // "\x93NUMPY"

/** numpy's own default limit (np.load max_header_size); real headers are under 200 bytes. */
const maxHeaderBytes = 10_000

/** numpy type codes (kind + item size) and the dtypes they read as. */
const fromNumpy: Readonly<Record<string, DType>> = {
  f8: "F64", f4: "F32", f2: "F16",
  i8: "I64", i4: "I32", i2: "I16", i1: "I8",
  u2: "U16", u1: "U8", b1: "BOOL"
}
const toNumpy = Object.fromEntries(Object.entries(fromNumpy).map(([code, dtype]) => [dtype, code])) as Record<DType, string>

type Literal = string | number | boolean | null | ReadonlyArray<Literal> | ReadonlyMap<string, Literal>

/**
 * Parses the small Python literal subset numpy writes in headers: dicts with
 * string keys, strings, integers, booleans, None, tuples and lists.
 */
const parseLiteral = (text: string, file: string): Literal => {
  let at = 0
  const bad = (what: string): never => fail(file, "header", `the npy header is not a valid Python literal: ${what} at character ${at}`)
  const skip = () => {
    while (at < text.length && " \t\n\r".includes(text[at]!)) at++
  }
  const sequence = (close: string, item: () => void) => {
    at++
    for (skip(); text[at] !== close; skip()) {
      if (at >= text.length) bad(`missing "${close}"`)
      item()
      skip()
      if (text[at] === ",") at++
      else if (text[at] !== close) bad(`expected "," or "${close}"`)
    }
    at++
  }
  const value = (depth: number): Literal => {
    if (depth > 8) bad("nesting too deep")
    skip()
    const c = text[at]
    if (c === "{") {
      const dict = new Map<string, Literal>()
      sequence("}", () => {
        const key = value(depth + 1)
        if (typeof key !== "string") bad("a non-string key")
        skip()
        if (text[at++] !== ":") bad('expected ":"')
        dict.set(key as string, value(depth + 1))
      })
      return dict
    }
    if (c === "(" || c === "[") {
      const items: Array<Literal> = []
      sequence(c === "(" ? ")" : "]", () => items.push(value(depth + 1)))
      return items
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, at + 1)
      if (end < 0) bad("an unterminated string")
      const s = text.slice(at + 1, end)
      at = end + 1
      return s
    }
    const word = /^(?:True|False|None|-?\d+)/.exec(text.slice(at, at + 24))?.[0]
    if (word === undefined) return bad("an unexpected token")
    at += word.length
    return word === "True" ? true : word === "False" ? false : word === "None" ? null : Number(word)
  }
  const result = value(0)
  skip()
  if (at !== text.length) bad("trailing characters")
  return result
}

interface NpyHeader {
  readonly dtype: DType
  readonly bigEndian: boolean
  readonly fortranOrder: boolean
  readonly shape: ReadonlyArray<number>
}

const readHeader = (reader: ByteReader): NpyHeader => {
  const { file } = reader
  const head = reader.take(6, "the npy magic")
  if (!magic.every((b, i) => head[i] === b)) fail(file, "header", "not an npy file (missing the \\x93NUMPY magic)")
  const major = reader.u8("the npy version")
  reader.u8("the npy version")
  if (major < 1 || major > 3) fail(file, "unsupported", `npy format version ${major} is not supported (1 to 3 are)`)
  const length = major === 1 ? reader.u16("the header length") : reader.u32("the header length")
  if (length > maxHeaderBytes) fail(file, "header", `the npy header claims ${length} bytes, more than ${maxHeaderBytes}`)
  const raw = reader.take(length, "the npy header")
  const text = major === 3 ? decodeUtf8(raw, file, "the npy header") : String.fromCharCode(...raw)
  const dict = parseLiteral(text, file)
  if (!(dict instanceof Map)) return fail(file, "header", "the npy header is not a dict")
  const descr = dict.get("descr")
  const fortranOrder = dict.get("fortran_order")
  const shape = dict.get("shape")
  if (typeof descr !== "string") {
    return fail(file, "unsupported", "structured npy arrays (a list descr) are not supported; save a plain array")
  }
  if (typeof fortranOrder !== "boolean") return fail(file, "header", "the npy header's fortran_order must be True or False")
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    return fail(file, "header", "the npy header's shape must be a tuple of non-negative integers")
  }
  const order = descr[0]
  const dtype = fromNumpy[descr.slice(1)]
  if (!"<>|=".includes(order ?? "") || dtype === undefined) {
    const hint = descr.endsWith("O") ? " (object arrays need pickle and are never loaded)" : ""
    return fail(file, "dtype", `npy dtype '${descr}' is not supported${hint}`)
  }
  return { dtype, bigEndian: order === ">", fortranOrder, shape: shape as ReadonlyArray<number> }
}

const decodeNpySync = (bytes: Uint8Array, file: string): Tensor => {
  const reader = new ByteReader(bytes, file)
  const { dtype, bigEndian, fortranOrder, shape } = readHeader(reader)
  const width = bytesPerElement(dtype)
  const length = numel(shape) * width
  if (length !== reader.remaining) {
    fail(file, length > reader.remaining ? "truncated" : "bounds",
      `an npy array of ${dtype}${JSON.stringify(shape)} needs ${length} data bytes, the file holds ${reader.remaining}`)
  }
  let data = reader.take(length)
  if (bigEndian && width > 1) data = swapBytes(data, width)
  if (fortranOrder && shape.length > 1) data = gather(data, width, shape, fortranStrides(shape), 0)
  return { dtype, shape, data }
}

/** Decodes an `.npy` file into a little-endian C-order tensor. */
export const decodeNpy = (bytes: Uint8Array, file: string = inMemory): Effect.Effect<Tensor, CheckpointError> =>
  attempt(() => decodeNpySync(bytes, file))

/**
 * Encodes a tensor as an `.npy` file (version 1.0, little-endian, C order).
 * BF16 has no numpy dtype, so it is written as float32, which is exact.
 */
export const encodeNpy = (tensor: Tensor): Uint8Array => {
  const source: Tensor = tensor.dtype === "BF16"
    ? { dtype: "F32", shape: tensor.shape, data: new Uint8Array(toFloat32(tensor).buffer) }
    : tensor
  const order = source.dtype === "U8" || source.dtype === "I8" || source.dtype === "BOOL" ? "|" : "<"
  const dims = source.shape.join(", ") + (source.shape.length === 1 ? "," : "")
  const dict = `{'descr': '${order}${toNumpy[source.dtype]}', 'fortran_order': False, 'shape': (${dims}), }`
  // Pad with spaces so the data starts on a 64-byte boundary, newline-terminated, as numpy does.
  const headerLength = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10
  const out = new Uint8Array(10 + headerLength + source.data.byteLength)
  out.set(magic)
  out[6] = 1
  new DataView(out.buffer).setUint16(8, headerLength, true)
  out.set(new TextEncoder().encode(dict.padEnd(headerLength - 1, " ") + "\n"), 10)
  out.set(source.data, 10 + headerLength)
  return out
}
