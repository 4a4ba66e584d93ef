/**
 * One verified, resumable blob download into the cache. Bytes stream into
 * `blobs/{etag}.incomplete`, which a later attempt (or a later process) resumes
 * with an HTTP Range request; the blob is checked (sha256, git blob id or
 * size) before an atomic rename puts it in place, so a blob in `blobs/` is
 * always whole and correct, and a failed check leaves no partial file behind.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path, Stream } from "effect"
import { cacheFailure, type RepoCache } from "./CacheLayout.ts"
import { gitBlobIdFile, isGitBlobId, isSha256, sha256File } from "./Checksum.ts"
import type { HubApi } from "./HubApi.ts"
import { HubError } from "./HubError.ts"
import { type OnProgress, progressReporter } from "./Progress.ts"
import { retryTransient, type RetryPolicy } from "./RetryPolicy.ts"

export interface BlobRequest {
  readonly repo: string
  readonly commit: string
  /** A repository file whose content is this blob. */
  readonly file: string
  /** The blob's name in the cache. */
  readonly etag: string
  readonly size: number | undefined
  /** Known sha256 of the content (LFS files). */
  readonly sha256: string | undefined
}

export interface BlobResult {
  readonly size: number
  /** Bytes received over the network, over all attempts. */
  readonly transferred: number
  readonly sha256: string | undefined
}

const checksumError = (request: BlobRequest, detail: string) =>
  new HubError({
    reason: "checksum",
    repo: request.repo,
    file: request.file,
    message: `${request.file} from ${request.repo} at ${request.commit} failed verification: ${detail}.`,
    remediation:
      "The download was discarded. Retry later; if it keeps failing, the hub or a proxy in between is serving corrupt data."
  })

export const downloadBlob = Effect.fn("downloadBlob")(function*(
  api: HubApi,
  cache: RepoCache,
  request: BlobRequest,
  options: { readonly policy: RetryPolicy; readonly onProgress: OnProgress | undefined }
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const part = cache.incomplete(request.etag)
  const blob = cache.blob(request.etag)
  yield* fs.makeDirectory(path.dirname(blob), { recursive: true }).pipe(
    Effect.mapError(cacheFailure("create the folder of", blob))
  )
  const { size: expectedSize, file } = request
  const expectedSha256 = request.sha256 ?? (isSha256(request.etag) ? request.etag : undefined)
  let transferred = 0

  const partSize = fs.stat(part).pipe(
    Effect.map((info) => Number(info.size)),
    Effect.orElseSucceed(() => 0)
  )
  const removePart = fs.remove(part, { force: true }).pipe(Effect.ignore)
  const progress = yield* progressReporter({
    file,
    total: expectedSize,
    startBytes: yield* partSize,
    onProgress: options.onProgress
  })

  /** Brings the partial file up to the full size, resuming from what is on disk. */
  const transfer = Effect.gen(function*() {
    let offset = yield* partSize
    if (expectedSize !== undefined && offset > expectedSize) {
      yield* removePart
      offset = 0
    }
    if (expectedSize !== undefined && offset === expectedSize) return
    const opened = yield* api.openFile(request.repo, request.commit, file, offset)
    const handle = yield* fs.open(part, { flag: opened.offset === 0 ? "w" : "a" }).pipe(
      Effect.mapError(cacheFailure("write", part))
    )
    let written = opened.offset
    yield* opened.body.pipe(
      Stream.runForEach((chunk) =>
        Effect.gen(function*() {
          written += chunk.length
          transferred += chunk.length
          if (expectedSize !== undefined && written > expectedSize) {
            return yield* checksumError(request, `the hub sent more than the listed ${expectedSize} bytes`)
          }
          yield* handle.writeAll(chunk).pipe(Effect.mapError(cacheFailure("write", part)))
          yield* progress.update(written)
        })
      )
    )
  }).pipe(Effect.scoped, retryTransient(options.policy))

  /** Checks the finished part file; resolves to its size and, when checked, its sha256. */
  const verify = Effect.gen(function*() {
    const size = yield* partSize
    if (expectedSize !== undefined && size !== expectedSize) {
      return yield* checksumError(request, `got ${size} bytes, expected ${expectedSize}`)
    }
    if (expectedSha256 !== undefined) {
      const actual = yield* sha256File(part).pipe(Effect.mapError(cacheFailure("read", part)))
      if (actual !== expectedSha256) {
        return yield* checksumError(request, `sha256 is ${actual}, expected ${expectedSha256}`)
      }
      return { size, sha256: actual }
    }
    if (isGitBlobId(request.etag)) {
      const actual = yield* gitBlobIdFile(part, size).pipe(Effect.mapError(cacheFailure("read", part)))
      if (actual !== request.etag) {
        return yield* checksumError(request, `git blob id is ${actual}, expected ${request.etag}`)
      }
    }
    return { size, sha256: undefined }
  })

  const verified = yield* transfer.pipe(
    Effect.andThen(verify),
    // A bad download is discarded and fetched once more from scratch before giving up.
    Effect.tapError((e) => e.reason === "checksum" ? removePart : Effect.void),
    Effect.retry({ times: 1, while: (e) => e.reason === "checksum" })
  )
  yield* fs.rename(part, blob).pipe(Effect.mapError(cacheFailure("move into place", blob)))
  yield* progress.done(verified.size)
  const result: BlobResult = { size: verified.size, transferred, sha256: verified.sha256 }
  return result
})
