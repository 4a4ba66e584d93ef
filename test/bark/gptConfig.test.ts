/**
 * The Bark `config.json` schema: compact and legacy forms, class defaults,
 * and typed errors for configs the GPT graphs cannot run.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { decodeBarkConfig, loadBarkConfig } from "../../src/bark/config.ts"
import { makeRandomCheckpoint, presets } from "../../src/dev/randomCheckpoint.ts"

const golden = new URL("../../../shared/fixtures/golden/v1_small_mixed/config.json", import.meta.url)

const section = (overrides: Record<string, unknown> = {}) => ({
  hidden_size: 16, num_heads: 2, num_layers: 2, bias: false, input_vocab_size: 12_096, output_vocab_size: 12_096,
  ...overrides
})
const config = (semantic: Record<string, unknown>, fine: Record<string, unknown> = {}) => ({
  semantic_config: section(semantic),
  coarse_acoustics_config: section(),
  fine_acoustics_config: { hidden_size: 16, num_heads: 2, num_layers: 2, bias: false, ...fine }
})

describe("BarkConfig", () => {
  it.effect("reads the golden config", () =>
    Effect.gen(function*() {
      const c = yield* decodeBarkConfig(JSON.parse(readFileSync(golden, "utf8")))
      assert.strictEqual(c.semantic_config.input_vocab_size, 129_600)
      assert.strictEqual(c.fine_acoustics_config.n_codes_total, 8)
      assert.isFalse(c.coarse_acoustics_config.bias)
      assert.strictEqual(c.codec_config.num_filters, 4)
    }))

  it.effect("legacy form: PretrainedConfig noise is ignored and the semantic output vocabulary defaults to 10048", () =>
    Effect.gen(function*() {
      const legacy = (yield* makeRandomCheckpoint({ ...presets.tiny, configForm: "legacy" })).config
      const semantic = legacy["semantic_config"] as Record<string, unknown>
      assert.notProperty(semantic, "output_vocab_size")
      assert.property(semantic, "id2label")
      const c = yield* decodeBarkConfig(legacy)
      assert.strictEqual(c.semantic_config.output_vocab_size, 10_048)
      assert.strictEqual(c.fine_acoustics_config.input_vocab_size, 1056)
    }))

  it.effect("accepts any head count that divides the width, and bias true", () =>
    Effect.gen(function*() {
      const c = yield* decodeBarkConfig(config({ num_heads: 4, bias: true }))
      assert.strictEqual(c.semantic_config.num_heads, 4)
      assert.isTrue(c.semantic_config.bias)
    }))

  it.effect("rejects heads that do not divide the width, and bad codebook counts, with a remediation", () =>
    Effect.gen(function*() {
      const heads = yield* Effect.flip(decodeBarkConfig(config({ num_heads: 3 })))
      assert.strictEqual(heads._tag, "BarkConfigError")
      assert.include(heads.message, "num_heads (3) must divide hidden_size (16)")
      assert.include(heads.remediation, "config.json")
      const codes = yield* Effect.flip(decodeBarkConfig(config({}, { n_codes_total: 2, n_codes_given: 2 })))
      assert.include(codes.message, "n_codes_given")
      const missing = yield* Effect.flip(decodeBarkConfig({ semantic_config: section() }))
      assert.include(missing.message, "coarse_acoustics_config")
    }))

  it.effect("loadBarkConfig reports unreadable files and invalid JSON as BarkConfigError", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "bark-config-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const broken = join(dir, "config.json")
      writeFileSync(broken, "{ not json")
      const json = yield* Effect.flip(loadBarkConfig(broken))
      assert.include(json.message, "not valid JSON")
      const absent = yield* Effect.flip(loadBarkConfig(join(dir, "absent.json")))
      assert.include(absent.message, "cannot read")
    }).pipe(Effect.provide(NodeServices.layer)))
})
