/**
 * The codec_config schema (defaults, unknown keys) and the decoder layout
 * derived from it, checked against the key/shape table of the real
 * facebook/encodec_24khz decoder (bark-reference.md §3.4).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { CodecConfig, codecLayout } from "../../src/bark/codec/config.ts"

const decode = (json: unknown) => Schema.decodeUnknownEffect(CodecConfig)(json)

describe("CodecConfig", () => {
  it.effect("an empty codec_config is facebook/encodec_24khz", () =>
    Effect.gen(function*() {
      const config = yield* decode({})
      assert.deepStrictEqual(config.upsampling_ratios, [8, 5, 4, 2])
      assert.deepStrictEqual(config.target_bandwidths, [1.5, 3, 6, 12, 24])
      assert.strictEqual(config.num_filters, 32)
      assert.isTrue(config.use_conv_shortcut)

      const layout = yield* codecLayout(config)
      assert.strictEqual(layout.hopLength, 320)
      assert.strictEqual(layout.frameRate, 75)
      assert.strictEqual(layout.storedCodebooks, 32)
      assert.strictEqual(layout.lstmWidth, 512)
      assert.deepStrictEqual(
        layout.stages.map((s) => [s.upsample.name, s.upsample.inChannels, s.upsample.outChannels, s.upsample.kernel, s.upsample.stride]),
        [
          ["decoder.layers.3.conv", 512, 256, 16, 8],
          ["decoder.layers.6.conv", 256, 128, 10, 5],
          ["decoder.layers.9.conv", 128, 64, 8, 4],
          ["decoder.layers.12.conv", 64, 32, 4, 2]
        ]
      )
      const block = layout.stages[0]!.residuals[0]!
      assert.deepStrictEqual(
        [block.first, block.second, block.shortcut].map((c) => c && [c.name, c.outChannels, c.inChannels, c.kernel]),
        [
          ["decoder.layers.4.block.1.conv", 128, 256, 3],
          ["decoder.layers.4.block.3.conv", 256, 128, 1],
          ["decoder.layers.4.shortcut.conv", 256, 256, 1]
        ]
      )
      assert.deepStrictEqual(
        [layout.firstConv, layout.lastConv].map((c) => [c.name, c.outChannels, c.inChannels, c.kernel]),
        [["decoder.layers.0.conv", 512, 128, 7], ["decoder.layers.15.conv", 1, 32, 7]]
      )
    }))

  it.effect("fills defaults around the fields given and ignores unknown keys", () =>
    Effect.gen(function*() {
      const config = yield* decode({ num_filters: 4, target_bandwidths: [1.5, 3, 6], chunk_length_s: null, _name_or_path: "x" })
      assert.strictEqual(config.num_filters, 4)
      assert.strictEqual(config.kernel_size, 7)
      assert.notProperty(config, "chunk_length_s")
      const layout = yield* codecLayout(config)
      assert.strictEqual(layout.storedCodebooks, 8)
      assert.strictEqual(layout.lstmWidth, 64)
      assert.strictEqual(layout.lastConv.inChannels, 4)
    }))

  it.effect("without the conv shortcut the residual blocks have none", () =>
    Effect.gen(function*() {
      const layout = yield* codecLayout(yield* decode({ use_conv_shortcut: false }))
      assert.isUndefined(layout.stages[0]!.residuals[0]!.shortcut)
    }))

  it.effect.each([
    [{ use_causal_conv: false }, "use_causal_conv"],
    [{ pad_mode: "constant" }, "pad_mode"],
    [{ norm_type: "time_group_norm" }, "norm_type"],
    [{ audio_channels: 2 }, "audio_channels"],
    [{ trim_right_ratio: 0.5 }, "trim_right_ratio"],
    [{ codebook_dim: 64 }, "codebook_dim"],
    [{ target_bandwidths: [1.5, 3] }, "target_bandwidths"]
  ] as const)("rejects %j with a typed error naming %s", ([json, field]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(codecLayout(yield* decode(json)))
      assert.strictEqual(error._tag, "UnsupportedCodecConfig")
      assert.include(error.message, field)
      assert.isAbove(error.remediation.length, 0)
    }))

  it.effect("rejects ill-typed fields at decoding", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decode({ num_filters: "many" }))
      assert.strictEqual(error._tag, "SchemaError")
    }))
})
