/**
 * A small zip reader for the containers checkpoints come in: PyTorch's zip
 * format (stored entries, ZIP64 past 4 GiB) and NumPy's `.npz` (stored or
 * deflated). It works over a `ByteSource`, in two steps: `readDirectory`
 * reads the end records and the central directory from the tail of the
 * archive and checks every entry's offset, sizes and method against the
 * archive before using them; `readEntry` then reads one entry's data through
 * its local header. Deflated entries are inflated with an output bound equal
 * to their declared size, and every entry's recorded CRC-32 is checked.
 * `readZip` reads every entry of an archive held in memory, stored entries as
 * views into it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { crc32, inflateRawSync } from "node:zlib"
import { ByteReader } from "./ByteReader.ts"
import { type ByteSource, fromBytes } from "./ByteSource.ts"
import { attempt, type CheckpointError, checkpointError, fail, inMemory } from "./CheckpointError.ts"

/** Entries by name, in central-directory order. */
export type ZipEntries = ReadonlyMap<string, Uint8Array>

/** One entry of the central directory, validated: a supported method, sizes DEFLATE can honour. */
export interface ZipEntry {
  readonly name: string
  /** 0 (stored) or 8 (deflate). */
  readonly method: number
  /** The recorded CRC-32; 0 when not recorded. */
  readonly crc: number
  readonly compressedSize: number
  readonly size: number
  readonly localOffset: number
}

/** The central directory: entries by name, in directory order. */
export type ZipDirectory = ReadonlyMap<string, ZipEntry>

const signature = {
  local: 0x04034b50,
  central: 0x02014b50,
  end: 0x06054b50,
  zip64End: 0x06064b50,
  zip64Locator: 0x07064b50
} as const

const eocdSize = 22
const zip64LocatorSize = 20
const zip64EndSize = 56
const localHeaderSize = 30
const centralHeaderSize = 46
const maxCommentBytes = 0xffff
/** DEFLATE cannot expand data by more than about 1032:1; a larger declared size is a lie. */
const maxDeflateRatio = 1032

/** The offset within `tail` of the end-of-central-directory record; `tail` ends where the archive ends. */
const findEndOfCentralDirectory = (tail: Uint8Array, file: string): number => {
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength)
  // The record's comment must run exactly to the end, or "PK\5\6" inside a comment would match.
  for (let at = tail.byteLength - eocdSize; at >= 0; at--) {
    if (view.getUint32(at, true) === signature.end && at + eocdSize + view.getUint16(at + 20, true) === tail.byteLength) return at
  }
  return fail(file, "zip", "no end-of-central-directory record: not a zip file, or a truncated one")
}

interface Location {
  readonly count: number
  readonly size: number
  readonly offset: number
}

/** The directory's location from the classic end record, or `undefined` when it defers to the ZIP64 record. */
const classicLocation = (eocd: ByteReader): Location | undefined => {
  eocd.u32() // signature
  const disk = eocd.u16()
  const directoryDisk = eocd.u16()
  eocd.u16() // entries on this disk
  const count = eocd.u16()
  const size = eocd.u32()
  const offset = eocd.u32()
  if (disk !== 0 || directoryDisk !== 0) fail(eocd.file, "unsupported", "multi-part (split) zip archives are not supported")
  return count !== 0xffff && size !== 0xffffffff && offset !== 0xffffffff ? { count, size, offset } : undefined
}

/** The ZIP64 record's offset, from the locator just before the classic record at `locatorAt + 20`. */
const zip64RecordOffset = (locator: ByteReader, locatorAt: number): number => {
  if (locator.u32() !== signature.zip64Locator) fail(locator.file, "zip", "a ZIP64 archive without its ZIP64 locator")
  locator.u32() // disk holding the ZIP64 record
  const recordAt = locator.u64("the ZIP64 record offset")
  if (recordAt > locatorAt) fail(locator.file, "zip", `the ZIP64 record offset ${recordAt} lies past the locator`)
  return recordAt
}

const zip64Location = (record: ByteReader): Location => {
  if (record.u32() !== signature.zip64End) fail(record.file, "zip", "the ZIP64 end-of-central-directory record is missing")
  record.u64() // record size
  record.u16() // version made by
  record.u16() // version needed
  record.u32() // this disk
  record.u32() // directory disk
  record.u64() // entries on this disk
  return { count: record.u64("the entry count"), size: record.u64("the directory size"), offset: record.u64("the directory offset") }
}

/** Reads the end records from the archive's tail and finds the central directory. */
const locateDirectory = (source: ByteSource) =>
  Effect.gen(function*() {
    const { file } = source
    if (source.size < eocdSize) return yield* checkpointError(file, "zip", "no end-of-central-directory record: not a zip file, or a truncated one")
    const tailAt = Math.max(0, source.size - eocdSize - maxCommentBytes)
    const tail = yield* source.read(tailAt, source.size - tailAt, "the end of the archive")
    const endInTail = yield* attempt(() => findEndOfCentralDirectory(tail, file))
    const classic = yield* attempt(() => classicLocation(new ByteReader(tail, file, endInTail)))
    if (classic !== undefined) return classic
    // ZIP64: a locator just before the classic record points at the 64-bit record.
    const locatorAt = tailAt + endInTail - zip64LocatorSize
    if (locatorAt < 0) return yield* checkpointError(file, "zip", "a ZIP64 archive without its ZIP64 locator")
    const locator = yield* source.read(locatorAt, zip64LocatorSize, "the ZIP64 locator")
    const recordAt = yield* attempt(() => zip64RecordOffset(new ByteReader(locator, file), locatorAt))
    const record = yield* source.read(recordAt, zip64EndSize, "the ZIP64 end-of-central-directory record")
    return yield* attempt(() => zip64Location(new ByteReader(record, file)))
  })

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

/** Fails for what `readEntry` could not read: encryption, other methods, sizes a method cannot produce. */
const checkEntry = (file: string, flags: number, entry: ZipEntry): void => {
  const { name, method, compressedSize, size } = entry
  if (flags & 0x1) fail(file, "unsupported", `entry "${name}" is encrypted`)
  if (method === 0) {
    if (compressedSize !== size) fail(file, "zip", `stored entry "${name}" has different compressed and plain sizes`)
  } else if (method === 8) {
    if (size > compressedSize * maxDeflateRatio + 1024) {
      fail(file, "zip", `deflated entry "${name}" claims ${size} bytes from ${compressedSize}, more than DEFLATE can produce`)
    }
  } else {
    fail(file, "unsupported", `entry "${name}" uses compression method ${method}; only stored and deflate are read`)
  }
}

const parseDirectory = (bytes: Uint8Array, file: string, count: number): ZipDirectory => {
  const central = new ByteReader(bytes, file)
  const names = new TextDecoder()
  const entries = new Map<string, ZipEntry>()
  for (let i = 0; i < count; i++) {
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
    const entry = { name, method, crc, compressedSize: sizes.compressed, size: sizes.size, localOffset: sizes.localOffset }
    checkEntry(file, flags, entry)
    if (entries.has(name)) fail(file, "zip", `entry "${name}" appears twice`)
    entries.set(name, entry)
  }
  return entries
}

/** Reads and checks the central directory: the archive's tail only, no entry data. */
export const readDirectory = (source: ByteSource): Effect.Effect<ZipDirectory, CheckpointError> =>
  Effect.gen(function*() {
    const { file } = source
    const { count, size, offset } = yield* locateDirectory(source)
    if (offset + size > source.size || count * centralHeaderSize > size) {
      return yield* checkpointError(file, "zip", `the central directory (${count} entries, ${size} bytes at ${offset}) does not fit the file`)
    }
    const bytes = yield* source.read(offset, size, "the central directory")
    return yield* attempt(() => parseDirectory(bytes, file, count))
  })

/** The entry's plain bytes from its raw (stored or deflated) bytes, CRC checked. */
const decompress = (file: string, entry: ZipEntry, raw: Uint8Array): Uint8Array => {
  const { name, size } = entry
  let data = raw
  if (entry.method === 8) {
    try {
      // One output chunk of the declared size (already bounded by the ratio check), so the output is not
      // assembled from pieces at twice its size.
      const inflated = inflateRawSync(raw, { maxOutputLength: Math.max(1, size), chunkSize: Math.max(64, size) })
      // A plain array, not a Buffer; small outputs sit in a shared pool, so those are copied out of it.
      data = inflated.byteLength === inflated.buffer.byteLength ? new Uint8Array(inflated.buffer) : new Uint8Array(inflated)
    } catch (error) {
      return fail(file, "zip", `entry "${name}" does not inflate: ${(error as Error).message}`)
    }
    if (data.byteLength !== size) fail(file, "zip", `entry "${name}" inflates to ${data.byteLength} bytes, not ${size}`)
  }
  // A zero CRC means "not recorded": torch can be configured to skip computing them.
  if (entry.crc !== 0 && crc32(data) !== entry.crc) fail(file, "zip", `entry "${name}" fails its CRC-32 check`)
  return data
}

/** Reads one entry's data through its local header: a stored entry as read from the source, a deflated one inflated. */
export const readEntry = (source: ByteSource, entry: ZipEntry): Effect.Effect<Uint8Array, CheckpointError> =>
  Effect.gen(function*() {
    const { file } = source
    const { name, localOffset } = entry
    const local = new ByteReader(yield* source.read(localOffset, localHeaderSize, `the local header of "${name}"`), file)
    const skip = yield* attempt(() => {
      if (local.u32() !== signature.local) fail(file, "zip", `entry "${name}" has no local header at offset ${localOffset}`)
      local.offset = 26
      return local.u16() + local.u16() // name and extra field lengths
    })
    const raw = yield* source.read(localOffset + localHeaderSize + skip, entry.compressedSize, `the data of "${name}"`)
    return yield* attempt(() => decompress(file, entry, raw))
  })

/** Reads every entry of a zip archive held in memory. */
export const readZip = (bytes: Uint8Array, file: string = inMemory): Effect.Effect<ZipEntries, CheckpointError> =>
  Effect.gen(function*() {
    const source = fromBytes(bytes, file)
    const entries = new Map<string, Uint8Array>()
    for (const entry of (yield* readDirectory(source)).values()) entries.set(entry.name, yield* readEntry(source, entry))
    return entries
  })
