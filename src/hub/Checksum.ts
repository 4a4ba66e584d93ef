/**
 * Content checks for downloaded blobs: the sha256 that names an LFS file, and
 * the git blob id that names a small (non-LFS) file. Both stream the file, so
 * memory stays flat for multi-gigabyte weights.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Stream } from "effect"
import { createHash, type Hash } from "node:crypto"

const digestFile = (file: string, hash: Hash) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* fs.stream(file, { chunkSize: 1 << 20 }).pipe(
      Stream.runForEach((chunk) => Effect.sync(() => hash.update(chunk)))
    )
    return hash.digest("hex")
  })

export const sha256File = Effect.fn("sha256File")(function*(file: string) {
  return yield* digestFile(file, createHash("sha256"))
})

/** The id git gives a blob of `size` bytes: sha1 over "blob {size}\0" and the content. */
export const gitBlobIdFile = Effect.fn("gitBlobIdFile")(function*(file: string, size: number) {
  return yield* digestFile(file, createHash("sha1").update(`blob ${size}\0`))
})

export const isSha256 = (s: string): boolean => /^[0-9a-f]{64}$/.test(s)
export const isGitBlobId = (s: string): boolean => /^[0-9a-f]{40}$/.test(s)
