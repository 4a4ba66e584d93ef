/**
 * Stage `cache-dirs`: resolves the two caches — model files in
 * huggingface_hub's layout (HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, else
 * `{root}/hub`) and this project's own files (BARK_OWN_CACHE_DIR, else
 * `{root}/bark-pipeline`), where the root is BARK_CACHE_DIR, HF_HOME,
 * XDG_CACHE_HOME/huggingface or ~/.cache/huggingface — creates them, checks
 * they are writable and reports free space. Fatal when they cannot be created
 * or written: nothing later can work without them.
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as Stage from "../../pipeline/Stage.ts"
import { StageFatal } from "../../pipeline/StageFatal.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import * as Settings from "../settings.ts"

export class CacheDirs extends Context.Service<CacheDirs, {
  /** The cache root (huggingface_hub's HF_HOME equivalent). */
  readonly root: string
  /** Model repositories in huggingface_hub's layout: HF_HUB_CACHE, … else `{root}/hub`. */
  readonly hub: string
  /** This project's own artefacts (built graphs, demo checkpoints): BARK_OWN_CACHE_DIR, else `{root}/bark-pipeline`. */
  readonly own: string
  /** Which setting chose the root. */
  readonly source: string
  /** Which settings chose the hub cache and the project's own. */
  readonly hubSource: string
  readonly ownSource: string
  readonly freeBytes: number
}>()("bark-pipeline/CacheDirs") {}

/**
 * `mkdir -p` one level at a time. Node's recursive mkdir never returns for
 * some unwritable parents (e.g. under /proc); creating each missing level
 * separately fails fast with the real error.
 */
const makeDirs = async (dir: string): Promise<void> => {
  const missing: Array<string> = []
  let current = dir
  while (!(await fs.stat(current).then(() => true, () => false))) {
    missing.unshift(current)
    const parent = path.dirname(current)
    if (parent === current) break
    current = parent
  }
  for (const d of missing) await fs.mkdir(d).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "EEXIST") throw e
  })
}

const gb = (bytes: number) => Math.round((bytes / 1024 ** 3) * 10) / 10

/** Below this much free space a download of bark-small would not fit. */
const lowSpaceBytes = 4 * 1024 ** 3

export const resolve = Effect.gen(function*() {
  const { dir: root, source } = yield* Settings.cacheRoot
  const { dir: hub, source: hubSource } = yield* Settings.hubCache
  const { dir: own, source: ownSource } = yield* Settings.ownCache
  const fatal = (what: string, e: unknown) =>
    new StageFatal({
      message: `cannot ${what} the cache directories ${hub} (from ${hubSource}) and ${own} (from ${ownSource}): ${(e as Error).message}`,
      remediation:
        "set BARK_CACHE_DIR (or HF_HOME; HF_HUB_CACHE for model files alone) to a writable directory, e.g. --set BARK_CACHE_DIR=/tmp/bark-cache, or fix the permissions",
      errorTag: "CacheDirError"
    })
  yield* Effect.tryPromise({
    try: () => Promise.all([hub, own].map(makeDirs)),
    catch: (e) => fatal("create", e)
  })
  yield* Effect.tryPromise({
    try: async () => {
      const probe = path.join(own, `.write-test-${process.pid}`)
      await fs.writeFile(probe, "ok")
      await fs.rm(probe)
    },
    catch: (e) => fatal("write to", e)
  })
  const stats = yield* Effect.tryPromise({ try: () => fs.statfs(hub), catch: (e) => fatal("inspect", e) })
  return CacheDirs.of({ root, hub, own, source, hubSource, ownSource, freeBytes: stats.bavail * stats.bsize })
})

export const stage = Stage.make({
  name: "cache-dirs",
  purpose: "resolve, create and check the writable cache layout",
  provides: CacheDirs,
  build: Effect.gen(function*() {
    const dirs = yield* resolve
    yield* StageReporter.annotate({
      root: dirs.root,
      source: dirs.source,
      hub: dirs.hub,
      hubSource: dirs.hubSource,
      own: dirs.own,
      ownSource: dirs.ownSource,
      freeGb: gb(dirs.freeBytes)
    })
    if (dirs.freeBytes < lowSpaceBytes) {
      yield* StageReporter.warn(
        `only ${gb(dirs.freeBytes)} GB free under ${dirs.hub}; a model download may not fit`,
        "free some space or point BARK_CACHE_DIR at a larger disk"
      )
    }
    return dirs
  })
})
