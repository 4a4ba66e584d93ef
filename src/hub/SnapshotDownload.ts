/**
 * The hub client's entry point: makes the files a caller selects from one
 * revision of a repository available in a huggingface_hub-compatible cache
 * and returns the snapshot folder that holds them.
 *
 * Online, the revision is resolved to a commit (recorded under `refs/`), the
 * selected files are downloaded (verified, resumable, a few at a time) unless
 * cached, and linked into `snapshots/{commit}/`. A commit revision whose files
 * are all cached needs no request at all. Offline (`HF_HUB_OFFLINE`), only the
 * cache is read.
 *
 * @since 0.1.0
 */
import { Clock, Effect, FileSystem, Option } from "effect"
import { downloadBlob } from "./BlobDownload.ts"
import { linkSnapshotFile, listSnapshot, readRef, type RepoCache, repoCache, snapshotFileSize, writeNoExist, writeRef } from "./CacheLayout.ts"
import { isSha256 } from "./Checksum.ts"
import { type HubApi, makeHubApi, type Sibling } from "./HubApi.ts"
import { HubConfig, type HubSettings } from "./HubConfig.ts"
import { HubError } from "./HubError.ts"
import type { OnProgress } from "./Progress.ts"
import { ensureRepoId, ensureRevision, isCommitHash } from "./RepoId.ts"
import { defaultRetryPolicy, type RetryPolicy, retryTransient } from "./RetryPolicy.ts"
import { ensureSafeFileName, ensureSafePath } from "./SafePath.ts"

/** Picks the repository files to fetch from a revision's listing. */
export type SelectFiles = (siblings: ReadonlyArray<Sibling>) => ReadonlyArray<string>

export interface SnapshotDownloadOptions {
  /** Repository id, e.g. "suno/bark-small". */
  readonly repo: string
  /** Branch, tag, 40-hex commit or refs/pr/N; default "main". */
  readonly revision?: string
  /** The hub cache folder (huggingface_hub's HF_HUB_CACHE: `{HF_HOME}/hub` by default); repos live in `models--…` under it. */
  readonly hubCache: string
  readonly select: SelectFiles
  /** Re-fetch even cached files (a cached blob is replaced only by one that verifies); no effect offline. */
  readonly force?: boolean
  /** Files downloaded at the same time; default 4. */
  readonly concurrency?: number
  readonly onProgress?: OnProgress
  readonly retry?: Partial<RetryPolicy>
  /** Hub settings; read from `HubConfig` (the HF_* environment) when absent. */
  readonly settings?: HubSettings
  /**
   * Files whose absence at the revision is recorded as huggingface_hub does
   * after a 404, an empty `.no_exist/{commit}/{file}`, when the listing lacks
   * them (e.g. `model.safetensors` of a repository that has only
   * `pytorch_model.bin`): Hugging Face's clients, offline, then know not to
   * look for them.
   */
  readonly recordAbsent?: ReadonlyArray<string>
}

export interface SnapshotFile {
  /** Repository-relative path, also its path under `dir`. */
  readonly path: string
  readonly bytes: number
  /** True when no byte of it was fetched by this call. */
  readonly cached: boolean
  readonly sha256?: string
}

export interface Snapshot {
  readonly repo: string
  readonly revision: string
  readonly commit: string
  /** The snapshot folder: `{hubCache}/models--…/snapshots/{commit}`. */
  readonly dir: string
  readonly files: ReadonlyArray<SnapshotFile>
  readonly bytesDownloaded: number
  readonly seconds: number
}

const DEFAULT_CONCURRENCY = 4

const MAX_NAMED = 20

const nameFiles = (files: ReadonlyArray<string>) =>
  files.length <= MAX_NAMED
    ? files.join(", ")
    : `${files.slice(0, MAX_NAMED).join(", ")} and ${files.length - MAX_NAMED} more`

const offlineMissing = (cache: RepoCache, revision: string, missing: ReadonlyArray<string>, detail: string) =>
  new HubError({
    reason: "offline-missing",
    repo: cache.repo,
    message: `HF_HUB_OFFLINE is set and ${detail} ${cache.repo} at revision ${revision}` +
      (missing.length > 0 ? `: missing ${nameFiles(missing)}.` : "."),
    remediation:
      `Unset HF_HUB_OFFLINE to download them, or pre-populate the cache at ${cache.dir} (run once online, or copy a huggingface_hub cache there).`
  })

const notListed = (repo: string, revision: string, files: ReadonlyArray<string>) =>
  new HubError({
    reason: "not-found",
    repo,
    message: `${repo} at revision ${revision} has no ${nameFiles(files)}.`,
    remediation: "Check the repository id and revision, or choose files the repository has."
  })

/** The selected names, checked for safety and without duplicates. */
const selectSafely = (repo: string, select: SelectFiles, siblings: ReadonlyArray<Sibling>) =>
  Effect.forEach(new Set(select(siblings)), (file) => ensureSafePath(file, "file name", repo))

/** The selection as served from a cached snapshot, and which selected files it lacks. */
const fromCache = Effect.fn("fromCache")(function*(cache: RepoCache, commit: string, select: SelectFiles) {
  const listing = yield* listSnapshot(cache, commit)
  const selected = yield* selectSafely(cache.repo, select, listing)
  const sizes = new Map(listing.map((f) => [f.rfilename, f.size]))
  const missing = selected.filter((file) => !sizes.has(file))
  const files = selected.map((path): SnapshotFile => ({ path, bytes: sizes.get(path) ?? 0, cached: true }))
  return { files, missing }
})

interface FilePlan {
  readonly file: string
  readonly etag: string
  readonly size: number | undefined
  readonly sha256: string | undefined
}

/** Where a listed file's blob is in the cache: named by its sha256 (LFS) or git blob id, else by a HEAD's etag. */
const planFile = (api: HubApi, repo: string, commit: string, sibling: Sibling, policy: RetryPolicy) =>
  Effect.gen(function*() {
    const known = sibling.lfs?.sha256 ?? sibling.blobId
    const head = known === undefined
      ? yield* api.fileMetadata(repo, commit, sibling.rfilename).pipe(retryTransient(policy))
      : undefined
    const etag = yield* ensureSafeFileName(known ?? head?.etag ?? "", "blob id", repo)
    const sha256 = sibling.lfs?.sha256 ?? (isSha256(etag) ? etag : undefined)
    const plan: FilePlan = {
      file: sibling.rfilename,
      etag,
      size: sibling.lfs?.size ?? sibling.size ?? head?.size,
      sha256
    }
    return plan
  })

const online = Effect.fn("snapshotDownload.online")(function*(
  cache: RepoCache,
  revision: string,
  settings: HubSettings,
  options: SnapshotDownloadOptions,
  policy: RetryPolicy,
  concurrency: number
) {
  const api = yield* makeHubApi(settings, policy)
  const info = yield* api.revisionInfo(cache.repo, revision).pipe(retryTransient(policy))
  const commit = info.sha
  yield* writeRef(cache, revision, commit)

  const selected = yield* selectSafely(cache.repo, options.select, info.siblings)
  const listed = new Map(info.siblings.map((s) => [s.rfilename, s]))
  const unlisted = selected.filter((file) => !listed.has(file))
  if (unlisted.length > 0) return yield* notListed(cache.repo, revision, unlisted)
  yield* Effect.forEach((options.recordAbsent ?? []).filter((file) => !listed.has(file)), (file) => writeNoExist(cache, commit, file), {
    discard: true
  })

  const plans = yield* Effect.forEach(
    selected,
    (file) => planFile(api, cache.repo, commit, listed.get(file)!, policy),
    { concurrency }
  )
  // Files with the same content share one blob: fetch it once, link it for each.
  const groups = yield* Effect.forEach(
    Map.groupBy(plans, (plan) => plan.etag).values(),
    (group) => fetchAndLink(api, cache, commit, group, { ...options, policy }),
    { concurrency }
  )
  const byPath = new Map(groups.flatMap((g) => g.files).map((f) => [f.path, f]))
  return {
    commit,
    files: selected.map((file) => byPath.get(file)!),
    bytesDownloaded: groups.reduce((sum, g) => sum + g.transferred, 0)
  }
})

/** Downloads one blob unless cached (or forced), then links every file that has it into the snapshot. */
const fetchAndLink = Effect.fn("fetchAndLink")(function*(
  api: HubApi,
  cache: RepoCache,
  commit: string,
  group: ReadonlyArray<FilePlan>,
  options: { readonly force?: boolean; readonly policy: RetryPolicy; readonly onProgress?: OnProgress }
) {
  const fs = yield* FileSystem.FileSystem
  const first = group[0]!
  const linked = yield* Effect.forEach(group, (plan) => Effect.map(snapshotFileSize(cache, commit, plan.file), Option.isSome))
  const blobPresent = yield* fs.exists(cache.blob(first.etag)).pipe(Effect.orElseSucceed(() => false))
  const cached = !(options.force ?? false) && (blobPresent || linked.every(Boolean))
  const fetched = cached ? undefined : yield* downloadBlob(api, cache, { repo: cache.repo, commit, ...first }, {
    policy: options.policy,
    onProgress: options.onProgress
  })
  const files = yield* Effect.forEach(group, (plan, i) =>
    Effect.gen(function*() {
      if (fetched !== undefined || !linked[i]) yield* linkSnapshotFile(cache, commit, plan.file, plan.etag)
      const bytes = Option.getOrElse(yield* snapshotFileSize(cache, commit, plan.file), () => 0)
      const sha256 = fetched?.sha256 ?? plan.sha256
      const file: SnapshotFile = { path: plan.file, bytes, cached, ...(sha256 === undefined ? {} : { sha256 }) }
      return file
    }))
  return { files, transferred: fetched?.transferred ?? 0 }
})

const hubSettings = (options: SnapshotDownloadOptions) =>
  options.settings === undefined
    ? HubConfig.pipe(
      Effect.mapError((e) =>
        new HubError({
          reason: "invalid-config",
          message: `The hub configuration is invalid: ${e.message}`,
          remediation: "Fix HF_ENDPOINT, HF_TOKEN or HF_HUB_OFFLINE (1/0, true/false)."
        })
      )
    )
    : Effect.succeed(options.settings)

/**
 * Makes the selected files of `repo` at `revision` available in the cache and
 * returns where they are.
 */
export const snapshotDownload = Effect.fn("snapshotDownload")(function*(options: SnapshotDownloadOptions) {
  const started = yield* Clock.currentTimeMillis
  const settings = yield* hubSettings(options)
  const repo = yield* ensureRepoId(options.repo)
  const revision = yield* ensureRevision(options.revision ?? "main", repo)
  const cache = yield* repoCache(options.hubCache, repo)
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry }
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    return yield* new HubError({
      reason: "invalid-config",
      repo,
      message: `Download concurrency must be a whole number of at least 1, got ${concurrency}.`,
      remediation: "Pass a concurrency such as 4, or leave it out for the default."
    })
  }
  yield* Effect.annotateCurrentSpan({ repo, revision, offline: settings.offline })

  const finish = (commit: string, files: ReadonlyArray<SnapshotFile>, bytesDownloaded: number) =>
    Effect.map(Clock.currentTimeMillis, (now): Snapshot => ({
      repo,
      revision,
      commit,
      dir: cache.snapshotDir(commit),
      files,
      bytesDownloaded,
      seconds: (now - started) / 1000
    }))

  const pinned = yield* readRef(cache, revision)
  if (settings.offline) {
    if (Option.isNone(pinned)) {
      const wanted = yield* selectSafely(repo, options.select, [])
      return yield* offlineMissing(cache, revision, wanted, "the cache has no snapshot of")
    }
    const cached = yield* fromCache(cache, pinned.value, options.select)
    if (cached.missing.length > 0) {
      return yield* offlineMissing(cache, revision, cached.missing, "the cache lacks files of")
    }
    return yield* finish(pinned.value, cached.files, 0)
  }
  // A commit never changes: if everything selected is cached, there is nothing to ask the hub.
  if (isCommitHash(revision) && !(options.force ?? false)) {
    const cached = yield* fromCache(cache, revision, options.select)
    if (cached.missing.length === 0 && cached.files.length > 0) return yield* finish(revision, cached.files, 0)
  }
  const fetched = yield* online(cache, revision, settings, options, policy, concurrency)
  return yield* finish(fetched.commit, fetched.files, fetched.bytesDownloaded)
})
