/**
 * Example recipe: the startup recipe with one stage added — a check, right
 * before the model download, that the cache disk has room for it. It stops
 * the run with a fatal error (and what to do) instead of failing halfway
 * through a multi-gigabyte download.
 *
 * Shows: a stage that needs an earlier stage's service (CacheDirs), reads its
 * own config knob (BARK_MIN_FREE_GB), annotates the report and fails with a
 * remediation; and `Pipeline.insertBefore` to place it.
 *
 *   bark-pipeline run pipelines/examples/disk-check.ts --set BARK_MIN_FREE_GB=20
 */
import { Config, Context, Effect, Option } from "effect"
import * as fs from "node:fs/promises"
import * as Settings from "../../src/bark/settings.ts"
import { CacheDirs } from "../../src/bark/stages/cacheDirs.ts"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import { ModelFiles } from "../../src/bark/services.ts"
import * as Stage from "../../src/pipeline/Stage.ts"
import { StageFatal } from "../../src/pipeline/StageFatal.ts"
import * as StageReporter from "../../src/pipeline/StageReporter.ts"
import startup from "../startup.ts"

/** What the check found. */
export class FreeDisk extends Context.Service<FreeDisk, {
  readonly path: string
  readonly freeGb: number
  readonly requiredGb: number
}>()("examples/FreeDisk") {}

/** BARK_MIN_FREE_GB: the least free space to start with. Default: the size of the configured model's weights. */
export const minFreeGb = Effect.gen(function*() {
  const explicit = yield* Config.option(Config.Number("BARK_MIN_FREE_GB"))
  if (Option.isSome(explicit)) return explicit.value
  return Settings.modelMemory(yield* Settings.model).weightsGb
})

const gb = (bytes: number) => Math.round((bytes / 1024 ** 3) * 100) / 100

export const diskCheck = Stage.make({
  name: "disk-check",
  purpose: "check the cache disk has room for the model before downloading it",
  provides: FreeDisk,
  needs: [CacheDirs],
  build: Effect.gen(function*() {
    const { root } = yield* CacheDirs
    const requiredGb = yield* minFreeGb
    // Measured now, not taken from cache-dirs: other processes share the disk.
    const stats = yield* Effect.tryPromise({
      try: () => fs.statfs(root),
      catch: (e) =>
        new StageFatal({
          message: `cannot measure free space under ${root}: ${(e as Error).message}`,
          remediation: "check that the cache directory is mounted and readable"
        })
    })
    const freeGb = gb(stats.bavail * stats.bsize)
    yield* StageReporter.annotate({ path: root, freeGb, requiredGb })
    if (freeGb < requiredGb) {
      return yield* new StageFatal({
        message: `only ${freeGb} GB free under ${root}, the model needs ${requiredGb} GB`,
        remediation: "free some space, point BARK_CACHE_DIR at a larger disk, or lower BARK_MIN_FREE_GB if you know the model is smaller",
        errorTag: "LowDiskSpace"
      })
    }
    return FreeDisk.of({ path: root, freeGb, requiredGb })
  })
})

// Before fetch-weights, the first stage that writes to the cache.
export default startup.pipe(
  Pipeline.insertBefore(ModelFiles, diskCheck),
  Pipeline.rename("disk-check", "Bark startup with a free-disk check before the download")
)
