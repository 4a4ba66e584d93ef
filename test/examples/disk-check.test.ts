import { assert, describe, it } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Context, Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import diskCheckRecipe, { diskCheck, FreeDisk } from "../../pipelines/examples/disk-check.ts"
import * as Settings from "../../src/bark/settings.ts"
import * as CacheDirs from "../../src/bark/stages/cacheDirs.ts"
import * as Environment from "../../src/bark/stages/environment.ts"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"

const withCache = <A, E, R>(f: (cache: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "bark-disk-check-"))),
    f,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** The example's stage on its own, after the stages it needs (the full recipe would go on to download). */
const upToCheck = Pipeline.make("up-to-disk-check", "d").pipe(
  Pipeline.add(Environment.stage),
  Pipeline.add(CacheDirs.stage),
  Pipeline.add(diskCheck)
)

describe("example: disk-check", () => {
  it("sits right after cache-dirs, i.e. before the first stage that downloads", () => {
    const names = Pipeline.stages(diskCheckRecipe).map((s) => s.name)
    const at = names.indexOf("disk-check")
    assert.strictEqual(names[at - 1], "cache-dirs")
    if (names.includes("fetch-weights")) assert.strictEqual(names[at + 1], "fetch-weights")
    assert.deepStrictEqual(Pipeline.orderProblems(diskCheckRecipe), [])
  })

  it.effect("stops the recipe with a fatal error and its fix when the disk is too small; nothing after it runs", () =>
    withCache((cache) =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip(Effect.scoped(Runner.run(diskCheckRecipe, {
          config: { BARK_CACHE_DIR: cache, BARK_MIN_FREE_GB: "1e12" }
        }))).pipe(Effect.provide(NodeServices.layer))
        assert.strictEqual(failed.stage, "disk-check")
        assert.strictEqual(failed.errorTag, "LowDiskSpace")
        assert.include(failed.remediation, "BARK_CACHE_DIR")
        const results = failed.report.results
        const at = results.findIndex((r) => r.stage === "disk-check")
        assert.strictEqual(results[at]!.metadata["requiredGb"], 1e12)
        assert.deepStrictEqual(results.slice(at + 1).map((r) => r.outcome), results.slice(at + 1).map(() => "not-run"))
      })
    ))

  it.effect("passes with the free space it measured; the default threshold is the model's weight size", () =>
    withCache((cache) =>
      Effect.gen(function*() {
        const ready = yield* Effect.scoped(Runner.run(upToCheck, { config: { BARK_CACHE_DIR: cache } }))
        const free = Context.get(ready.context, FreeDisk)
        assert.strictEqual(free.path, cache)
        assert.strictEqual(free.requiredGb, Settings.modelMemory(Settings.defaultSmallModel).weightsGb)
        assert.isAbove(free.freeGb, 0)
        assert.strictEqual(ready.report.results[2]!.metadata["freeGb"], free.freeGb)
        const large = yield* Effect.scoped(Runner.run(upToCheck, {
          config: { BARK_CACHE_DIR: cache, SUNO_USE_SMALL_MODELS: "False", BARK_MIN_FREE_GB: "0" }
        }))
        assert.strictEqual(Context.get(large.context, FreeDisk).requiredGb, 0, "the knob wins over the default")
      })
    ))

  it.effect("a threshold that is not a number is a config error naming the knob", () =>
    withCache((cache) =>
      Effect.gen(function*() {
        const failed = yield* Effect.flip(Effect.scoped(Runner.run(upToCheck, {
          config: { BARK_CACHE_DIR: cache, BARK_MIN_FREE_GB: "lots" }
        })))
        assert.strictEqual(failed.errorTag, "ConfigError")
        assert.include(failed.message, "BARK_MIN_FREE_GB")
      })
    ))
})
