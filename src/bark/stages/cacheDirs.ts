/**
 * Stage `cache-dirs`: resolves the cache root (BARK_CACHE_DIR, HF_HOME,
 * XDG_CACHE_HOME, then ~/.cache/huggingface), creates its layout, checks it
 * is writable and reports free space. Fatal when it cannot be created or
 * written: nothing later can work without it.
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
  /** `{root}/hub`: model repositories in huggingface_hub's layout. */
  readonly hub: string
  /** `{root}/bark-pipeline`: this project's own artefacts (built graphs, demo checkpoints). */
  readonly own: string
  /** Which setting chose the root. */
  readonly source: string
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
  const hub = path.join(root, "hub")
  const own = path.join(root, "bark-pipeline")
  const fatal = (what: string, e: unknown) =>
    new StageFatal({
      message: `cannot ${what} the cache directory ${root} (from ${source}): ${(e as Error).message}`,
      remediation:
        "set BARK_CACHE_DIR (or HF_HOME) to a writable directory, e.g. --set BARK_CACHE_DIR=/tmp/bark-cache, or fix the permissions",
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
  const stats = yield* Effect.tryPromise({ try: () => fs.statfs(root), catch: (e) => fatal("inspect", e) })
  return CacheDirs.of({ root, hub, own, source, freeBytes: stats.bavail * stats.bsize })
})

export const stage = Stage.make({
  name: "cache-dirs",
  purpose: "resolve, create and check the writable cache layout",
  provides: CacheDirs,
  build: Effect.gen(function*() {
    const dirs = yield* resolve
    yield* StageReporter.annotate({ root: dirs.root, source: dirs.source, hub: dirs.hub, freeGb: gb(dirs.freeBytes) })
    if (dirs.freeBytes < lowSpaceBytes) {
      yield* StageReporter.warn(
        `only ${gb(dirs.freeBytes)} GB free under ${dirs.root}; a model download may not fit`,
        "free some space or point BARK_CACHE_DIR at a larger disk"
      )
    }
    return dirs
  })
})
