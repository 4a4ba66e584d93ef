/**
 * Random access to a checkpoint's bytes, whether they are held in memory or
 * read from an open file: the decoders ask for byte ranges (a header, a zip
 * record, one tensor's data) and never for the whole input. Every range is
 * checked against the source's size before anything is allocated or read, so
 * a length or offset taken from a damaged file fails as "truncated" instead
 * of claiming memory.
 *
 * A memory source returns views (no copy); a file source reads each range
 * into a fresh array with positioned reads, so memory holds only what the
 * caller keeps.
 *
 * @since 0.2.0
 */
import { Effect, FileSystem, type Scope } from "effect"
import { attempt, type CheckpointError, checkpointError, fail, inMemory } from "./CheckpointError.ts"

export interface ByteSource {
  /** Name used in errors. */
  readonly file: string
  /** Total length in bytes. */
  readonly size: number
  /** Exactly `length` bytes from `offset`; `what` names them in errors. */
  readonly read: (offset: number, length: number, what: string) => Effect.Effect<Uint8Array, CheckpointError>
}

/** Fails as "truncated" unless [offset, offset + length) lies within `size` bytes. */
const checkRange = (file: string, size: number, offset: number, length: number, what: string): void => {
  const valid = Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0
  if (!valid || offset + length > size) {
    fail(file, "truncated", `${what} needs ${length} bytes at offset ${offset}, but the input holds ${size}`)
  }
}

/** Bytes already in memory; ranges are views into them. */
export const fromBytes = (bytes: Uint8Array, file: string = inMemory): ByteSource => ({
  file,
  size: bytes.byteLength,
  read: (offset, length, what) =>
    attempt(() => {
      checkRange(file, bytes.byteLength, offset, length, what)
      return bytes.subarray(offset, offset + length)
    })
})

/** Node reads at most 2 GiB per call; longer ranges are read in pieces. */
const chunkBytes = 1 << 30

const ioError = (file: string, error: { readonly message: string }) =>
  checkpointError(file, "io", `cannot read the checkpoint: ${error.message}`)

/** Reads `target.byteLength` bytes at `offset`; returns how many there were before the end of the file. */
const readInto = (handle: FileSystem.File, target: Uint8Array, offset: number) =>
  Effect.gen(function*() {
    let at = 0
    while (at < target.byteLength) {
      const count = yield* handle.read(target.subarray(at, Math.min(target.byteLength, at + chunkBytes)), {
        position: BigInt(offset + at)
      })
      if (count === 0) break
      at += count
    }
    return at
  })

/** An open file of `size` bytes (as it was when opened); each range is read into a new array. */
export const fromFile = (handle: FileSystem.File, file: string, size: number): ByteSource => ({
  file,
  size,
  read: (offset, length, what) =>
    Effect.gen(function*() {
      yield* attempt(() => checkRange(file, size, offset, length, what))
      const bytes = new Uint8Array(length)
      const got = yield* readInto(handle, bytes, offset).pipe(Effect.mapError((error) => ioError(file, error)))
      if (got < length) {
        return yield* checkpointError(file, "truncated",
          `${what} needs ${length} bytes at offset ${offset}, but the file ends at ${offset + got}: it shrank after it was opened`,
          "The file changed while it was being read. Let the download or copy finish, then load it again.")
      }
      return bytes
    })
})

/** Opens `path` for reading; the handle is closed with the scope. */
export const openFile = (path: string): Effect.Effect<ByteSource, CheckpointError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const handle = yield* fs.open(path, { flag: "r" })
    const size = Number((yield* handle.stat).size)
    return fromFile(handle, path, size)
  }).pipe(Effect.mapError((error) => ioError(path, error)))

/** Reads a whole file into memory (files past 2 GiB included, which a single `readFile` cannot). */
export const readWholeFile = (path: string): Effect.Effect<Uint8Array, CheckpointError, FileSystem.FileSystem> =>
  Effect.scoped(Effect.flatMap(openFile(path), (source) => source.read(0, source.size, "the file")))
