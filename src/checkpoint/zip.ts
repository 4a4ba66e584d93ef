/**
 * A small zip reader for the containers checkpoints come in: PyTorch's zip
 * format (stored entries, ZIP64 past 4 GiB) and NumPy's `.npz` (stored or
 * deflated). It reads the central directory, checks every offset and size
 * against the file before using it, and returns stored entries as views into
 * the input. Deflated entries are inflated with an output bound equal to their
 * declared size, and every entry's recorded CRC-32 is checked.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { crc32, inflateRawSync } from "node:zlib"
import { ByteReader } from "./ByteReader.ts"
import { attempt, type CheckpointError, fail, inMemory } from "./CheckpointError.ts"

/** Entries by name, in central-directory order. */
export type ZipEntries = ReadonlyMap<string, Uint8Array>

const signature = {
  local: 0x04034b50,
  central: 0x02014b50,
  end: 0x06054b50,
  zip64End: 0x06064b50,
  zip64Locator: 0x07064b50
} as const

const eocdSize = 22
const centralHeaderSize = 46
const maxCommentBytes = 0xffff
/** DEFLATE cannot expand data by more than about 1032:1; a larger declared size is a lie. */
const maxDeflateRatio = 1032

const findEndOfCentralDirectory = (bytes: Uint8Array, file: string): number => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const lowest = Math.max(0, bytes.byteLength - eocdSize - maxCommentBytes)
  // The record's comment must run exactly to the end, or "PK\5\6" inside a comment would match.
  for (let at = bytes.byteLength - eocdSize; at >= lowest; at--) {
    if (view.getUint32(at, true) === signature.end && at + eocdSize + view.getUint16(at + 20, true) === bytes.byteLength) return at
  }
  return fail(file, "zip", "no end-of-central-directory record: not a zip file, or a truncated one")
}

interface Directory {
  readonly count: number
  readonly size: number
  readonly offset: number
}

const readDirectoryLocation = (bytes: Uint8Array, file: string, end: number): Directory => {
  const eocd = new ByteReader(bytes, file, end + 4)
  const disk = eocd.u16()
  const directoryDisk = eocd.u16()
  eocd.u16() // entries on this disk
  const count = eocd.u16()
  const size = eocd.u32()
  const offset = eocd.u32()
  if (disk !== 0 || directoryDisk !== 0) fail(file, "unsupported", "multi-part (split) zip archives are not supported")
  if (count !== 0xffff && size !== 0xffffffff && offset !== 0xffffffff) return { count, size, offset }
  // ZIP64: a locator just before the classic record points at the 64-bit record.
  const locatorAt = end - 20
  if (locatorAt < 0) return fail(file, "zip", "a ZIP64 archive without its ZIP64 locator")
  const locator = new ByteReader(bytes, file, locatorAt)
  if (locator.u32() !== signature.zip64Locator) fail(file, "zip", "a ZIP64 archive without its ZIP64 locator")
  locator.u32() // disk holding the ZIP64 record
  const recordAt = locator.u64("the ZIP64 record offset")
  if (recordAt > locatorAt) fail(file, "zip", `the ZIP64 record offset ${recordAt} lies past the locator`)
  const record = new ByteReader(bytes, file, recordAt)
  if (record.u32() !== signature.zip64End) fail(file, "zip", "the ZIP64 end-of-central-directory record is missing")
  record.u64() // record size
  record.u16() // version made by
  record.u16() // version needed
  record.u32() // this disk
  record.u32() // directory disk
  record.u64() // entries on this disk
  return { count: record.u64("the entry count"), size: record.u64("the directory size"), offset: record.u64("the directory offset") }
}

interface Sizes {
  compressed: number
  size: number
  localOffset: number
}

/** Replaces the 0xFFFFFFFF placeholders of a central header with the values in its ZIP64 extra field. */
const applyZip64Extra = (extra: ByteReader, sizes: Sizes, name: string): void => {
  while (extra.remaining >= 4) {
    const id = extra.u16()
    const length = extra.u16()
    const field = new ByteReader(extra.take(length, "a zip extra field"), extra.file)
    if (id !== 0x0001) continue
    if (sizes.size === 0xffffffff) sizes.size = field.u64(`the ZIP64 size of "${name}"`)
    if (sizes.compressed === 0xffffffff) sizes.compressed = field.u64(`the ZIP64 compressed size of "${name}"`)
    if (sizes.localOffset === 0xffffffff) sizes.localOffset = field.u64(`the ZIP64 offset of "${name}"`)
    return
  }
}

const extract = (bytes: Uint8Array, file: string, name: string, method: number, crc: number, sizes: Sizes): Uint8Array => {
  const local = new ByteReader(bytes, file, sizes.localOffset)
  if (local.u32(`the local header of "${name}"`) !== signature.local) {
    fail(file, "zip", `entry "${name}" has no local header at offset ${sizes.localOffset}`)
  }
  local.offset += 22
  const nameLength = local.u16()
  const extraLength = local.u16()
  local.take(nameLength + extraLength, `the local header of "${name}"`)
  const raw = local.take(sizes.compressed, `the data of "${name}"`)
  let data: Uint8Array
  if (method === 0) {
    if (sizes.compressed !== sizes.size) fail(file, "zip", `stored entry "${name}" has different compressed and plain sizes`)
    data = raw
  } else if (method === 8) {
    if (sizes.size > sizes.compressed * maxDeflateRatio + 1024) {
      fail(file, "zip", `deflated entry "${name}" claims ${sizes.size} bytes from ${sizes.compressed}, more than DEFLATE can produce`)
    }
    try {
      const inflated = inflateRawSync(raw, { maxOutputLength: Math.max(1, sizes.size) })
      data = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength) // a plain array, not a Buffer
    } catch (error) {
      return fail(file, "zip", `entry "${name}" does not inflate: ${(error as Error).message}`)
    }
    if (data.byteLength !== sizes.size) fail(file, "zip", `entry "${name}" inflates to ${data.byteLength} bytes, not ${sizes.size}`)
  } else {
    return fail(file, "unsupported", `entry "${name}" uses compression method ${method}; only stored and deflate are read`)
  }
  // A zero CRC means "not recorded": torch can be configured to skip computing them.
  if (crc !== 0 && crc32(data) !== crc) fail(file, "zip", `entry "${name}" fails its CRC-32 check`)
  return data
}

const readZipSync = (bytes: Uint8Array, file: string): ZipEntries => {
  const directory = readDirectoryLocation(bytes, file, findEndOfCentralDirectory(bytes, file))
  if (directory.offset + directory.size > bytes.byteLength || directory.count * centralHeaderSize > directory.size) {
    fail(file, "zip", `the central directory (${directory.count} entries, ${directory.size} bytes at ${directory.offset}) does not fit the file`)
  }
  const central = new ByteReader(bytes.subarray(directory.offset, directory.offset + directory.size), file)
  const names = new TextDecoder()
  const entries = new Map<string, Uint8Array>()
  for (let i = 0; i < directory.count; i++) {
    if (central.u32("a central directory header") !== signature.central) fail(file, "zip", `central directory entry ${i} is malformed`)
    central.offset += 4 // versions
    const flags = central.u16()
    const method = central.u16()
    central.offset += 4 // time, date
    const crc = central.u32()
    const sizes: Sizes = { compressed: central.u32(), size: central.u32(), localOffset: 0 }
    const nameLength = central.u16()
    const extraLength = central.u16()
    const commentLength = central.u16()
    central.offset += 8 // disk, internal and external attributes
    sizes.localOffset = central.u32()
    const name = names.decode(central.take(nameLength, "an entry name"))
    applyZip64Extra(new ByteReader(central.take(extraLength, "an extra field"), file), sizes, name)
    central.take(commentLength, "an entry comment")
    if (flags & 0x1) fail(file, "unsupported", `entry "${name}" is encrypted`)
    if (entries.has(name)) fail(file, "zip", `entry "${name}" appears twice`)
    entries.set(name, extract(bytes, file, name, method, crc, sizes))
  }
  return entries
}

/** Reads every entry of a zip archive held in memory. */
export const readZip = (bytes: Uint8Array, file: string = inMemory): Effect.Effect<ZipEntries, CheckpointError> =>
  attempt(() => readZipSync(bytes, file))
