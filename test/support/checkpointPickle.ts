/**
 * Hand-assembled pickles for checkpoint tests: opcode helpers, and a torch
 * zip checkpoint holding one tensor with any storage, offset, size and
 * stride, including ones `torch.save` would never write (for the loader's
 * bounds checks and the fuzz test).
 *
 * @since 0.1.0
 */
import { makeZip } from "./checkpointZip.ts"

export type Part = number | string | Uint8Array | ReadonlyArray<Part>

const utf8 = new TextEncoder()

/** Concatenates opcode bytes, raw strings (UTF-8) and byte arrays. */
export const pickle = (...parts: ReadonlyArray<Part>): Uint8Array => {
  const bytes: Array<number> = []
  const add = (part: Part): void => {
    if (typeof part === "number") bytes.push(part)
    else if (typeof part === "string") bytes.push(...utf8.encode(part))
    else for (const p of part) add(p)
  }
  parts.forEach(add)
  return new Uint8Array(bytes)
}

const u32 = (n: number): Array<number> => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]

export const op = {
  PROTO2: [0x80, 2], MARK: 0x28, STOP: 0x2e, TUPLE: 0x74, TUPLE1: 0x85, TUPLE2: 0x86, EMPTY_TUPLE: 0x29,
  EMPTY_DICT: 0x7d, EMPTY_LIST: 0x5d, SETITEM: 0x73, APPEND: 0x61, REDUCE: 0x52, BUILD: 0x62, NEWOBJ: 0x81,
  BINPERSID: 0x51, NEWFALSE: 0x89, NONE: 0x4e
} as const

export const str = (s: string): Part => {
  const bytes = utf8.encode(s)
  return [0x58, u32(bytes.byteLength), bytes]
}
export const int = (n: number): Part => [0x4a, u32(n)]
export const global = (module: string, name: string): Part => ["c", module, "\n", name, "\n"]
export const tuple = (...items: ReadonlyArray<Part>): Part => [op.MARK, items, op.TUPLE]

export interface TensorSpec {
  readonly storageType?: string
  readonly key?: string
  /** The element count the persistent id declares. */
  readonly numel: number
  readonly offset?: number
  readonly size: ReadonlyArray<number>
  readonly stride: ReadonlyArray<number>
}

/** A tensor as `torch.save` pickles it (`_rebuild_tensor_v2` over a persistent storage id). */
export const tensorValue = (spec: TensorSpec): Part => [
  global("torch._utils", "_rebuild_tensor_v2"),
  tuple(
    tuple(str("storage"), global("torch", spec.storageType ?? "FloatStorage"), str(spec.key ?? "0"), str("cpu"), int(spec.numel)),
    op.BINPERSID,
    int(spec.offset ?? 0),
    tuple(...spec.size.map(int)),
    tuple(...spec.stride.map(int)),
    op.NEWFALSE,
    global("collections", "OrderedDict"), op.EMPTY_TUPLE, op.REDUCE
  ),
  op.REDUCE
]

/** The pickle of `{"w": tensor}` as torch.save writes it (protocol 2, `_rebuild_tensor_v2`). */
export const tensorPickle = (spec: TensorSpec): Uint8Array => pickle(op.PROTO2, op.EMPTY_DICT, str("w"), tensorValue(spec), op.SETITEM, op.STOP)

/** A torch zip checkpoint (`archive/data.pkl` + `archive/data/<key>`) from a pickle and its storages. */
export const torchZip = (dataPkl: Uint8Array, storages: Readonly<Record<string, Uint8Array>>): Uint8Array =>
  makeZip([
    { name: "archive/data.pkl", data: dataPkl },
    ...Object.entries(storages).map(([key, data]) => ({ name: `archive/data/${key}`, data })),
    { name: "archive/version", data: utf8.encode("3\n") }
  ])
