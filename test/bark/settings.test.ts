import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import * as Settings from "../../src/bark/settings.ts"

const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

describe("settings", () => {
  it.effect("the cache root follows BARK_CACHE_DIR, then HF_HOME, then XDG_CACHE_HOME, then the home cache", () =>
    Effect.gen(function*() {
      const all = { BARK_CACHE_DIR: "/a", HF_HOME: "/b", XDG_CACHE_HOME: "/c" }
      assert.deepStrictEqual(yield* Settings.cacheRoot.pipe(withEnv(all)), { dir: "/a", source: "BARK_CACHE_DIR" })
      assert.deepStrictEqual(yield* Settings.cacheRoot.pipe(withEnv({ HF_HOME: "/b", XDG_CACHE_HOME: "/c" })), {
        dir: "/b",
        source: "HF_HOME"
      })
      assert.deepStrictEqual(yield* Settings.cacheRoot.pipe(withEnv({ XDG_CACHE_HOME: "/c" })), {
        dir: "/c/huggingface",
        source: "XDG_CACHE_HOME"
      })
      assert.deepStrictEqual(yield* Settings.cacheRoot.pipe(withEnv({})), {
        dir: path.join(os.homedir(), ".cache", "huggingface"),
        source: "home"
      })
    }))

  it.effect("model files follow HF_HUB_CACHE, then HUGGINGFACE_HUB_CACHE, then {root}/hub, as huggingface_hub does", () =>
    Effect.gen(function*() {
      const hub = (env: Record<string, string>) => Settings.hubCache.pipe(withEnv(env))
      const all = { HF_HUB_CACHE: "/hub", HUGGINGFACE_HUB_CACHE: "/legacy", BARK_CACHE_DIR: "/a", HF_HOME: "/b" }
      assert.deepStrictEqual(yield* hub(all), { dir: "/hub", source: "HF_HUB_CACHE" })
      assert.deepStrictEqual(yield* hub({ ...all, HF_HUB_CACHE: "" }), { dir: "/legacy", source: "HUGGINGFACE_HUB_CACHE" })
      assert.deepStrictEqual(yield* hub({ HF_HOME: "/b" }), { dir: "/b/hub", source: "HF_HOME" })
      assert.deepStrictEqual(yield* hub({ BARK_CACHE_DIR: "/a", HF_HOME: "/b" }), { dir: "/a/hub", source: "BARK_CACHE_DIR" })
      assert.deepStrictEqual(yield* hub({}), { dir: path.join(os.homedir(), ".cache", "huggingface", "hub"), source: "home" })
    }))

  it.effect("this project's own files follow BARK_OWN_CACHE_DIR, else {root}/bark-pipeline, whatever HF_HUB_CACHE says", () =>
    Effect.gen(function*() {
      const own = (env: Record<string, string>) => Settings.ownCache.pipe(withEnv(env))
      assert.deepStrictEqual(yield* own({ BARK_OWN_CACHE_DIR: "/own", BARK_CACHE_DIR: "/a" }), { dir: "/own", source: "BARK_OWN_CACHE_DIR" })
      assert.deepStrictEqual(yield* own({ HF_HUB_CACHE: "/hub", HF_HOME: "/b" }), { dir: "/b/bark-pipeline", source: "HF_HOME" })
    }))

  it.effect("BARK_MODEL wins; otherwise SUNO_USE_SMALL_MODELS picks bark-small (default) or bark, Python booleans included", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Settings.model.pipe(withEnv({})), "suno/bark-small")
      assert.strictEqual(yield* Settings.model.pipe(withEnv({ SUNO_USE_SMALL_MODELS: "False" })), "suno/bark")
      assert.strictEqual(yield* Settings.model.pipe(withEnv({ SUNO_USE_SMALL_MODELS: "True" })), "suno/bark-small")
      assert.strictEqual(
        yield* Settings.model.pipe(withEnv({ SUNO_USE_SMALL_MODELS: "False", BARK_MODEL: "/models/mine" })),
        "/models/mine"
      )
    }))

  it.effect("flags accept any case of true/false, 1/0, yes/no, on/off and reject the rest with a remediation", () =>
    Effect.gen(function*() {
      for (const [raw, value] of [["TRUE", true], ["off", false], ["1", true], ["No", false]] as const) {
        assert.strictEqual(yield* Settings.flag("X").pipe(withEnv({ X: raw })), value)
      }
      const error = yield* Effect.flip(Settings.flag("X").pipe(withEnv({ X: "maybe" })))
      assert.include(error.message, "X=maybe is not a boolean: use true/false")
    }))
})
