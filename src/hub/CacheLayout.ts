/**
 * The huggingface_hub cache layout, so that downloads made by Python tools are
 * reused here and ours are usable by them:
 *
 * ```
 * {hubCache}/models--{org}--{name}/
 *   blobs/{etag}              file contents, named by sha256 (LFS) or git blob id
 *   snapshots/{commit}/{path} relative symlinks to ../../blobs/{etag}
 *   refs/{revision}           the commit a branch/tag/PR pointed at when last resolved
 *   .no_exist/{commit}/{path} empty: the file is known not to exist at that commit
 * ```
 *
 * @since 0.1.0
 */
import { writeAtomic } from "../files/writeAtomic.ts"
import { Effect, FileSystem, Option, Path, type PlatformError } from "effect"
import { HubError } from "./HubError.ts"
import { isCommitHash } from "./RepoId.ts"

export interface RepoCache {
  readonly repo: string
  readonly dir: string
  readonly blob: (etag: string) => string
  /** Where a blob is written while it downloads (huggingface_hub's name, so partial downloads are shared). */
  readonly incomplete: (etag: string) => string
  readonly snapshotDir: (commit: string) => string
  readonly snapshotFile: (commit: string, file: string) => string
  readonly ref: (revision: string) => string
  /** huggingface_hub's marker that `file` does not exist at `commit`. */
  readonly noExist: (commit: string, file: string) => string
}

export const repoFolderName = (repo: string): string => `models--${repo.split("/").join("--")}`

/** The cache folder of `repo` under the hub cache `hubCache` (HF_HUB_CACHE, e.g. `~/.cache/huggingface/hub`). */
export const repoCache = (hubCache: string, repo: string) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const dir = path.join(hubCache, repoFolderName(repo))
    const cache: RepoCache = {
      repo,
      dir,
      blob: (etag) => path.join(dir, "blobs", etag),
      incomplete: (etag) => path.join(dir, "blobs", `${etag}.incomplete`),
      snapshotDir: (commit) => path.join(dir, "snapshots", commit),
      snapshotFile: (commit, file) => path.join(dir, "snapshots", commit, ...file.split("/")),
      ref: (revision) => path.join(dir, "refs", ...revision.split("/")),
      noExist: (commit, file) => path.join(dir, ".no_exist", commit, ...file.split("/"))
    }
    return cache
  })

/** Maps a file-system failure to a HubError that says which cache path failed. */
export const cacheFailure = (action: string, target: string) => (error: PlatformError.PlatformError) =>
  new HubError({
    reason: "filesystem",
    message: `Could not ${action} ${target} in the model cache: ${error.message}`,
    remediation: "Check that the cache folder is writable and the disk has free space, or point the cache elsewhere."
  })

/** The commit a revision pointed at when last resolved online, if it is recorded. */
export const readRef = Effect.fn("readRef")(function*(cache: RepoCache, revision: string) {
  if (isCommitHash(revision)) return Option.some(revision)
  const fs = yield* FileSystem.FileSystem
  const text = yield* fs.readFileString(cache.ref(revision)).pipe(Effect.option)
  return Option.filter(Option.map(text, (t) => t.trim()), isCommitHash)
})

/** Records revision → commit, atomically, like huggingface_hub. Commits need no ref. */
export const writeRef = Effect.fn("writeRef")(function*(cache: RepoCache, revision: string, commit: string) {
  if (revision === commit) return
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const target = cache.ref(revision)
  yield* fs.makeDirectory(path.dirname(target), { recursive: true }).pipe(
    Effect.andThen(writeAtomic(target, commit)),
    Effect.mapError(cacheFailure("record the ref", target))
  )
})

/** huggingface_hub's record that `file` does not exist at `commit`: an empty `.no_exist/{commit}/{file}`. */
export const writeNoExist = Effect.fn("writeNoExist")(function*(cache: RepoCache, commit: string, file: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const marker = cache.noExist(commit, file)
  yield* fs.makeDirectory(path.dirname(marker), { recursive: true }).pipe(
    Effect.andThen(writeAtomic(marker, new Uint8Array(0))),
    Effect.mapError(cacheFailure("record an absent file", marker))
  )
})

/**
 * Points `snapshots/{commit}/{file}` at the blob with a relative symlink,
 * replacing what was there; copies the blob where symlinks are not allowed.
 */
export const linkSnapshotFile = Effect.fn("linkSnapshotFile")(
  function*(cache: RepoCache, commit: string, file: string, etag: string) {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const link = cache.snapshotFile(commit, file)
    const blob = cache.blob(etag)
    yield* fs.makeDirectory(path.dirname(link), { recursive: true }).pipe(
      Effect.andThen(fs.remove(link, { force: true })),
      Effect.andThen(
        fs.symlink(path.relative(path.dirname(link), blob), link).pipe(
          Effect.catch(() => fs.copyFile(blob, link))
        )
      ),
      Effect.mapError(cacheFailure("link", link))
    )
  }
)

/** Size of a snapshot file (following its link), or none when it or its blob is missing. */
export const snapshotFileSize = Effect.fn("snapshotFileSize")(function*(cache: RepoCache, commit: string, file: string) {
  const fs = yield* FileSystem.FileSystem
  const info = yield* fs.stat(cache.snapshotFile(commit, file)).pipe(Effect.option)
  return Option.flatMap(info, (i) => i.type === "File" ? Option.some(Number(i.size)) : Option.none())
})

/** Every file of a cached snapshot, as repository-relative paths with their sizes. */
export const listSnapshot = Effect.fn("listSnapshot")(function*(cache: RepoCache, commit: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const root = cache.snapshotDir(commit)
  const entries = yield* fs.readDirectory(root, { recursive: true }).pipe(Effect.orElseSucceed(() => []))
  const files = yield* Effect.forEach(entries, (entry) => {
    const file = entry.split(path.sep).join("/")
    return Effect.map(snapshotFileSize(cache, commit, file), Option.map((size) => ({ rfilename: file, size })))
  })
  return files.flatMap((f) => Option.isSome(f) ? [f.value] : [])
})
