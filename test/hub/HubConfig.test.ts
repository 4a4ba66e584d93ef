import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option, Redacted } from "effect"
import { DEFAULT_ENDPOINT, HubConfig } from "../../src/hub/HubConfig.ts"

const read = (env: Record<string, string>) =>
  HubConfig.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

describe("HubConfig", () => {
  it.effect("defaults to huggingface.co, no token, online", () =>
    Effect.gen(function*() {
      const settings = yield* read({})
      assert.strictEqual(settings.endpoint, DEFAULT_ENDPOINT)
      assert.isTrue(Option.isNone(settings.token))
      assert.isFalse(settings.offline)
    }))

  it.effect("reads HF_ENDPOINT, HF_TOKEN (redacted) and HF_HUB_OFFLINE=1", () =>
    Effect.gen(function*() {
      const settings = yield* read({ HF_ENDPOINT: "http://127.0.0.1:9/", HF_TOKEN: "hf_secret", HF_HUB_OFFLINE: "1" })
      assert.strictEqual(settings.endpoint, "http://127.0.0.1:9")
      assert.isTrue(settings.offline)
      const token = Option.getOrThrow(settings.token)
      assert.strictEqual(Redacted.value(token), "hf_secret")
      assert.notInclude(String(token), "hf_secret")
      assert.notInclude(JSON.stringify(settings), "hf_secret")
    }))

  it.effect("treats an empty HF_TOKEN as none and rejects a malformed HF_HUB_OFFLINE", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isNone((yield* read({ HF_TOKEN: "" })).token))
      const error = yield* Effect.flip(read({ HF_HUB_OFFLINE: "maybe" }))
      assert.include(error.message, "HF_HUB_OFFLINE")
    }))
})
