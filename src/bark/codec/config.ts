/**
 * The `codec_config` section of a Bark checkpoint (Hugging Face `EncodecConfig`)
 * and the decoder layout derived from it.
 *
 * Missing keys take the values of `facebook/encodec_24khz`, so a config that
 * lists only what differs decodes to the full config; unknown keys are ignored.
 * `codecLayout` then checks that the config describes a decoder this library
 * can run (causal, reflect-padded, weight-normalised, mono) and works out the
 * channels, kernels and checkpoint names of every decoder layer.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"

const withDefault = <S extends Schema.Top>(schema: S, value: S["Encoded"]) =>
  schema.pipe(Schema.withDecodingDefaultKey(Effect.succeed(value)))

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const Size = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const CodecConfig = Schema.Struct({
  audio_channels: withDefault(Count, 1),
  /** `null` means "same as hidden_size" (Hugging Face convention). */
  codebook_dim: withDefault(Schema.NullOr(Count), 128),
  codebook_size: withDefault(Count, 1024),
  compress: withDefault(Count, 2),
  dilation_growth_rate: withDefault(Count, 2),
  hidden_size: withDefault(Count, 128),
  kernel_size: withDefault(Count, 7),
  last_kernel_size: withDefault(Count, 7),
  norm_type: withDefault(Schema.String, "weight_norm"),
  num_filters: withDefault(Count, 32),
  num_lstm_layers: withDefault(Size, 2),
  num_residual_layers: withDefault(Size, 1),
  pad_mode: withDefault(Schema.String, "reflect"),
  residual_kernel_size: withDefault(Count, 3),
  sampling_rate: withDefault(Count, 24000),
  target_bandwidths: withDefault(Schema.Array(Schema.Number.check(Schema.isGreaterThan(0))), [1.5, 3, 6, 12, 24]),
  trim_right_ratio: withDefault(Schema.Number, 1),
  upsampling_ratios: withDefault(Schema.Array(Count), [8, 5, 4, 2]),
  use_causal_conv: withDefault(Schema.Boolean, true),
  use_conv_shortcut: withDefault(Schema.Boolean, true)
})
export type CodecConfig = typeof CodecConfig.Type

export class UnsupportedCodecConfig extends Schema.TaggedError<UnsupportedCodecConfig>()("UnsupportedCodecConfig", {
  message: Schema.String,
  remediation: Schema.String
}) {}

/**
 * Codebooks of Bark's fine stage (6 kbps at 24 kHz), the most the decoder
 * reads; it decodes the first 1..8 of them (0.75 kbps each).
 */
export const BARK_CODEBOOKS = 8

/** A causal, stride-1 Conv1d; `name` is its module path under `codec_model.`. */
export interface ConvLayer {
  readonly name: string
  readonly inChannels: number
  readonly outChannels: number
  readonly kernel: number
  readonly dilation: number
}

/** A causal ConvTranspose1d upsampling by `stride` (kernel 2·stride). */
export interface UpsampleLayer {
  readonly name: string
  readonly inChannels: number
  readonly outChannels: number
  readonly kernel: number
  readonly stride: number
}

/** SEANet residual block: ELU → conv(k) → ELU → conv(1), plus a 1×1 conv (or identity) shortcut. */
export interface ResidualBlock {
  readonly first: ConvLayer
  readonly second: ConvLayer
  /** Absent when `use_conv_shortcut` is false (identity skip). */
  readonly shortcut?: ConvLayer
}

export interface UpsampleStage {
  readonly upsample: UpsampleLayer
  readonly residuals: ReadonlyArray<ResidualBlock>
}

export interface CodecLayout {
  readonly sampleRate: number
  /** Samples per frame: the product of the upsampling ratios (320 at 24 kHz). */
  readonly hopLength: number
  /** Frames per second, rounded up (75 at 24 kHz). */
  readonly frameRate: number
  readonly codebookSize: number
  /** Width of a codebook vector = the decoder's input channels (128). */
  readonly codebookDim: number
  /** Codebooks the checkpoint stores (32 for encodec_24khz); only the first `BARK_CODEBOOKS` are used. */
  readonly storedCodebooks: number
  /** Width of the LSTM (and of the first conv's output): num_filters · 2^stages (512). */
  readonly lstmWidth: number
  readonly lstmLayers: number
  /** Module path of the LSTM under `codec_model.`. */
  readonly lstmName: string
  readonly firstConv: ConvLayer
  readonly stages: ReadonlyArray<UpsampleStage>
  readonly lastConv: ConvLayer
}

const unsupported = (message: string, remediation: string) =>
  Effect.fail(new UnsupportedCodecConfig({ message, remediation }))

const checkSupported = (c: CodecConfig): Effect.Effect<void, UnsupportedCodecConfig> => {
  const runs = "this decoder runs the EnCodec 24 kHz layout that Bark uses"
  if (!c.use_causal_conv) {
    return unsupported("codec_config.use_causal_conv is false; only causal convolutions are supported", `${runs}: set use_causal_conv to true`)
  }
  if (c.pad_mode !== "reflect") {
    return unsupported(`codec_config.pad_mode is "${c.pad_mode}"; only "reflect" is supported`, `${runs}: set pad_mode to "reflect"`)
  }
  if (c.norm_type !== "weight_norm") {
    return unsupported(
      `codec_config.norm_type is "${c.norm_type}"; only "weight_norm" is supported`,
      `${runs}: set norm_type to "weight_norm" (time_group_norm belongs to the non-causal 48 kHz model)`
    )
  }
  if (c.trim_right_ratio !== 1) {
    return unsupported(`codec_config.trim_right_ratio is ${c.trim_right_ratio}; only 1.0 is supported`, `${runs}: set trim_right_ratio to 1.0`)
  }
  if (c.audio_channels !== 1) {
    return unsupported(`codec_config.audio_channels is ${c.audio_channels}; only mono (1) is supported`, `${runs}: set audio_channels to 1`)
  }
  if ((c.codebook_dim ?? c.hidden_size) !== c.hidden_size) {
    return unsupported(
      `codec_config.codebook_dim (${c.codebook_dim}) differs from hidden_size (${c.hidden_size}); quantizer projections are not supported`,
      `${runs}: use codebook_dim equal to hidden_size`
    )
  }
  if (c.upsampling_ratios.length === 0 || c.target_bandwidths.length === 0) {
    return unsupported("codec_config.upsampling_ratios and target_bandwidths must not be empty", `${runs}: use the encodec_24khz values`)
  }
  if (c.num_lstm_layers === 0) {
    return unsupported("codec_config.num_lstm_layers is 0; the decoder needs its LSTM", `${runs}: set num_lstm_layers to 2`)
  }
  if (c.num_filters < c.compress) {
    return unsupported(
      `codec_config.num_filters (${c.num_filters}) is smaller than compress (${c.compress}), leaving residual blocks no channels`,
      `${runs}: use num_filters of at least compress`
    )
  }
  return Effect.void
}

/** Number of codebooks the quantizer stores, as Hugging Face's EncodecConfig computes it. */
const storedCodebooks = (c: CodecConfig, frameRate: number): number =>
  Math.floor((1000 * c.target_bandwidths[c.target_bandwidths.length - 1]!) / (frameRate * Math.log2(c.codebook_size)))

const conv = (index: number, suffix: string, inChannels: number, outChannels: number, kernel: number, dilation = 1): ConvLayer => ({
  name: `decoder.layers.${index}.${suffix}conv`,
  inChannels,
  outChannels,
  kernel,
  dilation
})

/**
 * Checks that the decoder can run this config and lays out its layers with
 * their Hugging Face module names (`decoder.layers.<i>…`): conv, LSTM, then per
 * upsampling ratio ELU + ConvTranspose1d + residual blocks, then ELU + conv.
 */
export const codecLayout = Effect.fn("codecLayout")(function*(c: CodecConfig) {
  yield* checkSupported(c)
  const hopLength = c.upsampling_ratios.reduce((a, b) => a * b, 1)
  const frameRate = Math.ceil(c.sampling_rate / hopLength)
  const stored = storedCodebooks(c, frameRate)
  if (stored < BARK_CODEBOOKS) {
    return yield* unsupported(
      `codec_config.target_bandwidths top out at ${c.target_bandwidths.at(-1)} kbps, which gives ${stored} codebooks; Bark decodes ${BARK_CODEBOOKS}`,
      "use a codec whose largest target bandwidth is at least 6.0 kbps (encodec_24khz lists up to 24.0)"
    )
  }
  const lstmWidth = c.num_filters * 2 ** c.upsampling_ratios.length
  let index = 2 // 0: first conv, 1: LSTM
  let channels = lstmWidth
  const stages = c.upsampling_ratios.map((ratio): UpsampleStage => {
    index += 1 // ELU
    const upsample: UpsampleLayer = {
      name: `decoder.layers.${index}.conv`,
      inChannels: channels,
      outChannels: channels / 2,
      kernel: 2 * ratio,
      stride: ratio
    }
    index += 1
    channels /= 2
    const dim = channels
    const hidden = Math.floor(dim / c.compress)
    const residuals = Array.from({ length: c.num_residual_layers }, (_, j): ResidualBlock => {
      const at = index++
      const block = {
        first: conv(at, "block.1.", dim, hidden, c.residual_kernel_size, c.dilation_growth_rate ** j),
        second: conv(at, "block.3.", hidden, dim, 1)
      }
      return c.use_conv_shortcut ? { ...block, shortcut: conv(at, "shortcut.", dim, dim, 1) } : block
    })
    return { upsample, residuals }
  })
  return {
    sampleRate: c.sampling_rate,
    hopLength,
    frameRate,
    codebookSize: c.codebook_size,
    codebookDim: c.hidden_size,
    storedCodebooks: stored,
    lstmWidth,
    lstmLayers: c.num_lstm_layers,
    lstmName: "decoder.layers.1.lstm",
    firstConv: conv(0, "", c.hidden_size, lstmWidth, c.kernel_size),
    stages,
    lastConv: conv(index + 1, "", c.num_filters, c.audio_channels, c.last_kernel_size)
  } satisfies CodecLayout
})
