/**
 * Random-weight Bark checkpoints in the exact Hugging Face `BarkModel` layout:
 * the real vocabularies (129 600/10 048, 12 096/12 096, 1056/1056), block size
 * 1024, 8 fine codebooks and the EnCodec 24 kHz codec layout; only widths,
 * depths and filter counts are chosen by the caller. Generation is seeded and
 * deterministic: the same options give byte-identical tensors.
 *
 * Weights follow the Hugging Face initialiser (N(0, 0.02), LayerNorm weights
 * near 1), except that the output heads use N(0, 1/H) so logits have unit
 * spread instead of being near-uniform, and biases are small random values so
 * tests notice an ignored bias.
 *
 * `writeBarkModelDir` (./modelDir.ts) writes such a checkpoint as a model
 * directory.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { type DType, fromFloat32, make, type Tensor, type Weights } from "../checkpoint/Tensor.ts"
import { makeRandom, type Random } from "./random.ts"

export interface GptSize {
  readonly hidden: number
  readonly heads: number
  readonly layers: number
}

export interface RandomCheckpointOptions {
  readonly seed: number
  readonly semantic: GptSize
  readonly coarse: GptSize
  readonly fine: GptSize
  /** EnCodec `num_filters` (32 in the real codec); the LSTM is 16× as wide. */
  readonly codecFilters: number
  /** Quantizer codebooks stored (32 in the real codec; at least 8). */
  readonly codebooks: number
  /** Storage dtype of every tensor. */
  readonly dtype: "F32" | "F16"
  /** The GPTs' `bias` flag: Linear biases and semantic/coarse LayerNorm biases. */
  readonly bias: boolean
  /** Store the fine `lm_heads.{0..6}` next to the tied `input_embeds_layers.{1..7}`, or omit them. */
  readonly fineHeads: "stored" | "omitted"
  /**
   * `compact`: the keys the model needs. `legacy`: every sub-config carries the
   * PretrainedConfig fields transformers 4.31 wrote, and the semantic
   * `output_vocab_size` is left to its class default, as in `suno/bark`.
   */
  readonly configForm: "compact" | "legacy"
  /** `full`: every EncodecConfig key. `minimal`: only those that differ from facebook/encodec_24khz. */
  readonly codecConfig: "minimal" | "full"
  /** Weight-norm spelling of the codec convolutions. */
  readonly weightNorm: "weight_g" | "parametrizations"
}

export interface RandomCheckpoint {
  /** The `config.json` object. */
  readonly config: Record<string, unknown>
  readonly tensors: Weights
}

export class InvalidRandomCheckpointOptions extends Schema.TaggedError<InvalidRandomCheckpointOptions>()(
  "InvalidRandomCheckpointOptions",
  { message: Schema.String, remediation: Schema.String }
) {}

const gpt = (hidden: number, heads: number, layers: number): GptSize => ({ hidden, heads, layers })
const uniform = (size: GptSize) => ({ semantic: size, coarse: size, fine: size })

const defaults = {
  dtype: "F32",
  bias: false,
  fineHeads: "stored",
  configForm: "compact",
  codecConfig: "full",
  weightNorm: "weight_g"
} as const

/** Ready-made sizes: `tiny` for tests, `demo` for a quick end-to-end run, `barkSmall` (suno/bark-small's dims) for benchmarks. */
export const presets = {
  tiny: { seed: 1, ...uniform(gpt(16, 2, 2)), codecFilters: 4, codebooks: 8, ...defaults },
  demo: { seed: 1, ...uniform(gpt(128, 2, 2)), codecFilters: 16, codebooks: 32, ...defaults },
  barkSmall: { seed: 1, ...uniform(gpt(768, 12, 12)), codecFilters: 32, codebooks: 32, ...defaults }
} satisfies Record<string, RandomCheckpointOptions>

// ------------------------------------------------------------------ the layout

export const VOCAB = {
  semantic: { input: 129_600, output: 10_048 },
  coarse: { input: 12_096, output: 12_096 },
  fine: { input: 1056, output: 1056 }
} as const
const BLOCK_SIZE = 1024
export const FINE_CODEBOOKS = 8
const UPSAMPLING_RATIOS = [8, 5, 4, 2] as const
export const CODEBOOK_SIZE = 1024
const CODEBOOK_DIM = 128
const BANDWIDTHS = [1.5, 3, 6, 12, 24]
/** kbps per codebook at 75 frames/s with 1024-entry codebooks. */
const KBPS_PER_CODEBOOK = 0.75

// --------------------------------------------------------------- tensor maker

class TensorSink {
  readonly tensors = new Map<string, Tensor>()
  private readonly random: Random
  private readonly dtype: DType

  constructor(random: Random, dtype: "F32" | "F16") {
    this.random = random
    this.dtype = dtype
  }

  put(name: string, shape: ReadonlyArray<number>, values: Float32Array): Float32Array {
    const t = this.dtype === "F32"
      ? fromFloat32(shape, values)
      : make("F16", shape, new Uint8Array(new Float16Array(values).buffer))
    this.tensors.set(name, t)
    return values
  }

  normal(name: string, shape: ReadonlyArray<number>, std: number, mean = 0): Float32Array {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1))
    for (let i = 0; i < values.length; i++) values[i] = mean + std * this.random.normal()
    return this.put(name, shape, values)
  }

  uniform(name: string, shape: ReadonlyArray<number>, bound: number): Float32Array {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1))
    for (let i = 0; i < values.length; i++) values[i] = (2 * this.random.uniform() - 1) * bound
    return this.put(name, shape, values)
  }
}

const WEIGHT_STD = 0.02
const BIAS_STD = 0.02

const layerNorm = (sink: TensorSink, name: string, h: number, bias: boolean) => {
  sink.normal(`${name}.weight`, [h], WEIGHT_STD, 1)
  if (bias) sink.normal(`${name}.bias`, [h], BIAS_STD)
}

const linear = (sink: TensorSink, name: string, out: number, inp: number, bias: boolean) => {
  sink.normal(`${name}.weight`, [out, inp], WEIGHT_STD)
  if (bias) sink.normal(`${name}.bias`, [out], BIAS_STD)
}

/** Blocks shared by the three GPTs; `causal` models use BarkLayerNorm (bias per flag), the fine model nn.LayerNorm. */
const gptBlocks = (sink: TensorSink, prefix: string, size: GptSize, bias: boolean, causal: boolean) => {
  const h = size.hidden
  const normBias = causal ? bias : true
  sink.normal(`${prefix}.position_embeds_layer.weight`, [BLOCK_SIZE, h], WEIGHT_STD)
  for (let i = 0; i < size.layers; i++) {
    const p = `${prefix}.layers.${i}`
    layerNorm(sink, `${p}.layernorm_1`, h, normBias)
    linear(sink, `${p}.attn.att_proj`, 3 * h, h, bias)
    linear(sink, `${p}.attn.out_proj`, h, h, bias)
    layerNorm(sink, `${p}.layernorm_2`, h, normBias)
    linear(sink, `${p}.mlp.in_proj`, 4 * h, h, bias)
    linear(sink, `${p}.mlp.out_proj`, h, 4 * h, bias)
  }
  layerNorm(sink, `${prefix}.layernorm_final`, h, normBias)
}

const causalGpt = (sink: TensorSink, prefix: string, size: GptSize, vocab: { input: number; output: number }, bias: boolean) => {
  sink.normal(`${prefix}.input_embeds_layer.weight`, [vocab.input, size.hidden], WEIGHT_STD)
  gptBlocks(sink, prefix, size, bias, true)
  sink.normal(`${prefix}.lm_head.weight`, [vocab.output, size.hidden], 1 / Math.sqrt(size.hidden))
}

const fineGpt = (sink: TensorSink, size: GptSize, bias: boolean, heads: "stored" | "omitted") => {
  const prefix = "fine_acoustics"
  const headStd = 1 / Math.sqrt(size.hidden)
  for (let k = 0; k < FINE_CODEBOOKS; k++) {
    // Tables 1..7 double as the output heads (tied), so they get the head scale.
    const table = sink.normal(`${prefix}.input_embeds_layers.${k}.weight`, [VOCAB.fine.input, size.hidden], k === 0 ? WEIGHT_STD : headStd)
    if (k > 0 && heads === "stored") sink.put(`${prefix}.lm_heads.${k - 1}.weight`, [VOCAB.fine.output, size.hidden], table)
  }
  gptBlocks(sink, prefix, size, bias, false)
}

// ------------------------------------------------------------------ the codec

/** One weight-normalised conv: v ~ N(0, 1/fan-in), g = ‖v[a]‖·(1 ± 10 %) so folding is not a no-op. */
const codecConv = (
  sink: TensorSink,
  random: Random,
  name: string,
  shape: readonly [number, number, number],
  fanIn: number,
  biasSize: number,
  naming: "weight_g" | "parametrizations"
) => {
  const [g, v] = naming === "weight_g" ? ["weight_g", "weight_v"] : ["parametrizations.weight.original0", "parametrizations.weight.original1"]
  const values = new Float32Array(shape[0] * shape[1] * shape[2])
  const std = 1 / Math.sqrt(fanIn)
  for (let i = 0; i < values.length; i++) values[i] = std * random.normal()
  const per = values.length / shape[0]
  const gains = new Float32Array(shape[0])
  for (let a = 0; a < shape[0]; a++) {
    let sum = 0
    for (let i = a * per; i < (a + 1) * per; i++) sum += values[i]! * values[i]!
    gains[a] = Math.sqrt(sum) * (1 + 0.1 * random.normal())
  }
  sink.put(`${name}.${g}`, [shape[0], 1, 1], gains)
  sink.put(`${name}.${v}`, shape, values)
  sink.normal(`${name}.bias`, [biasSize], 0.1)
}

const codecLstm = (sink: TensorSink, name: string, width: number) => {
  const bound = 1 / Math.sqrt(width) // PyTorch's LSTM initialiser
  for (let n = 0; n < 2; n++) {
    sink.uniform(`${name}.weight_ih_l${n}`, [4 * width, width], bound)
    sink.uniform(`${name}.weight_hh_l${n}`, [4 * width, width], bound)
    sink.uniform(`${name}.bias_ih_l${n}`, [4 * width], bound)
    sink.uniform(`${name}.bias_hh_l${n}`, [4 * width], bound)
  }
}

/**
 * EnCodec 24 kHz: quantizer codebooks, encoder and decoder, named as Hugging
 * Face's EncodecModel names them (HF `decoder.layers` index = position in the
 * SEANet layer list, ELUs included).
 */
const codec = (sink: TensorSink, random: Random, options: RandomCheckpointOptions) => {
  const nf = options.codecFilters
  const naming = options.weightNorm
  const conv = (name: string, out: number, inp: number, k: number) =>
    codecConv(sink, random, `codec_model.${name}`, [out, inp, k], inp * k, out, naming)
  const convT = (name: string, inp: number, out: number, stride: number) =>
    codecConv(sink, random, `codec_model.${name}`, [inp, out, 2 * stride], 2 * inp, out, naming) // each output sums in·k/stride terms
  const residual = (name: string, dim: number) => {
    conv(`${name}.block.1.conv`, dim / 2, dim, 3)
    conv(`${name}.block.3.conv`, dim, dim / 2, 1)
    conv(`${name}.shortcut.conv`, dim, dim, 1)
  }
  const width = nf * 2 ** UPSAMPLING_RATIOS.length

  for (let k = 0; k < options.codebooks; k++) {
    const p = `codec_model.quantizer.layers.${k}.codebook`
    sink.put(`${p}.inited`, [1], Float32Array.of(1))
    sink.uniform(`${p}.cluster_size`, [CODEBOOK_SIZE], 1)
    sink.normal(`${p}.embed`, [CODEBOOK_SIZE, CODEBOOK_DIM], 1)
    sink.normal(`${p}.embed_avg`, [CODEBOOK_SIZE, CODEBOOK_DIM], 1)
  }

  // encoder: conv, then per reversed ratio [residual, ELU, strided conv], LSTM, ELU, conv
  let index = 0
  conv(`encoder.layers.${index++}.conv`, nf, 1, 7)
  let channels = nf
  for (const ratio of [...UPSAMPLING_RATIOS].reverse()) {
    residual(`encoder.layers.${index++}`, channels)
    index++
    conv(`encoder.layers.${index++}.conv`, 2 * channels, channels, 2 * ratio)
    channels *= 2
  }
  codecLstm(sink, `codec_model.encoder.layers.${index++}.lstm`, width)
  index++
  conv(`encoder.layers.${index}.conv`, CODEBOOK_DIM, width, 7)

  // decoder: conv, LSTM, then per ratio [ELU, transposed conv, residual], ELU, conv
  conv("decoder.layers.0.conv", width, CODEBOOK_DIM, 7)
  codecLstm(sink, "codec_model.decoder.layers.1.lstm", width)
  index = 2
  channels = width
  for (const ratio of UPSAMPLING_RATIOS) {
    index++
    convT(`decoder.layers.${index++}.conv`, channels, channels / 2, ratio)
    channels /= 2
    residual(`decoder.layers.${index++}`, channels)
  }
  conv(`decoder.layers.${index + 1}.conv`, 1, nf, 7)
}

// ------------------------------------------------------------------ the config

/** The PretrainedConfig fields transformers 4.31 writes into every sub-config. */
const LEGACY_FIELDS = {
  _name_or_path: "",
  add_cross_attention: false,
  bad_words_ids: null,
  begin_suppress_tokens: null,
  bos_token_id: null,
  chunk_size_feed_forward: 0,
  cross_attention_hidden_size: null,
  decoder_start_token_id: null,
  diversity_penalty: 0.0,
  do_sample: false,
  early_stopping: false,
  encoder_no_repeat_ngram_size: 0,
  eos_token_id: null,
  exponential_decay_length_penalty: null,
  finetuning_task: null,
  forced_bos_token_id: null,
  forced_eos_token_id: null,
  id2label: { "0": "LABEL_0", "1": "LABEL_1" },
  is_decoder: false,
  is_encoder_decoder: false,
  label2id: { LABEL_0: 0, LABEL_1: 1 },
  length_penalty: 1.0,
  max_length: 20,
  min_length: 0,
  no_repeat_ngram_size: 0,
  num_beam_groups: 1,
  num_beams: 1,
  num_return_sequences: 1,
  output_attentions: false,
  output_hidden_states: false,
  output_scores: false,
  pad_token_id: null,
  prefix: null,
  problem_type: null,
  pruned_heads: {},
  remove_invalid_values: false,
  repetition_penalty: 1.0,
  return_dict: true,
  return_dict_in_generate: false,
  sep_token_id: null,
  suppress_tokens: null,
  task_specific_params: null,
  temperature: 1.0,
  tf_legacy_loss: false,
  tie_encoder_decoder: false,
  tie_word_embeddings: true,
  tokenizer_class: null,
  top_k: 50,
  top_p: 1.0,
  torch_dtype: null,
  torchscript: false,
  transformers_version: "4.31.0",
  typical_p: 1.0,
  use_bfloat16: false
}

const gptConfig = (
  options: RandomCheckpointOptions,
  modelType: "semantic" | "coarse_acoustics" | "fine_acoustics",
  architecture: string,
  size: GptSize,
  vocab: { input: number; output: number }
): Record<string, unknown> => {
  const config: Record<string, unknown> = {
    ...(options.configForm === "legacy" ? LEGACY_FIELDS : {}),
    architectures: [architecture],
    bias: options.bias,
    block_size: BLOCK_SIZE,
    dropout: 0.0,
    hidden_size: size.hidden,
    initializer_range: 0.02,
    input_vocab_size: vocab.input,
    model_type: modelType,
    num_heads: size.heads,
    num_layers: size.layers,
    output_vocab_size: vocab.output,
    use_cache: true
  }
  if (options.configForm === "legacy" && modelType === "semantic") delete config.output_vocab_size
  if (modelType === "fine_acoustics") Object.assign(config, { n_codes_given: 1, n_codes_total: FINE_CODEBOOKS, tie_word_embeddings: true })
  return config
}

const targetBandwidths = (codebooks: number) => {
  const top = codebooks * KBPS_PER_CODEBOOK
  return [...BANDWIDTHS.filter((b) => b < top), top]
}

const codecConfig = (options: RandomCheckpointOptions): Record<string, unknown> => {
  const bandwidths = targetBandwidths(options.codebooks)
  const identity = { _name_or_path: "facebook/encodec_24khz", architectures: ["EncodecModel"], model_type: "encodec" }
  if (options.codecConfig === "minimal") {
    return {
      ...identity,
      ...(options.codecFilters === 32 ? {} : { num_filters: options.codecFilters }),
      ...(bandwidths.join() === BANDWIDTHS.join() ? {} : { target_bandwidths: bandwidths })
    }
  }
  return {
    ...identity,
    audio_channels: 1,
    chunk_length_s: null,
    codebook_dim: CODEBOOK_DIM,
    codebook_size: CODEBOOK_SIZE,
    compress: 2,
    dilation_growth_rate: 2,
    hidden_size: CODEBOOK_DIM,
    kernel_size: 7,
    last_kernel_size: 7,
    norm_type: "weight_norm",
    normalize: false,
    num_filters: options.codecFilters,
    num_lstm_layers: 2,
    num_residual_layers: 1,
    overlap: null,
    pad_mode: "reflect",
    residual_kernel_size: 3,
    sampling_rate: 24000,
    target_bandwidths: bandwidths,
    trim_right_ratio: 1.0,
    upsampling_ratios: [...UPSAMPLING_RATIOS],
    use_causal_conv: true,
    use_conv_shortcut: true
  }
}

const barkConfig = (options: RandomCheckpointOptions): Record<string, unknown> => ({
  architectures: ["BarkModel"],
  model_type: "bark",
  initializer_range: 0.02,
  semantic_config: gptConfig(options, "semantic", "BarkSemanticModel", options.semantic, VOCAB.semantic),
  coarse_acoustics_config: gptConfig(options, "coarse_acoustics", "BarkCoarseModel", options.coarse, VOCAB.coarse),
  fine_acoustics_config: gptConfig(options, "fine_acoustics", "BarkFineModel", options.fine, VOCAB.fine),
  codec_config: codecConfig(options),
  torch_dtype: options.dtype === "F16" ? "float16" : "float32",
  transformers_version: "4.31.0"
})

// --------------------------------------------------------------- validation

const MAX_HIDDEN = 4096
const MAX_LAYERS = 64
const MAX_CODEBOOKS = 32

const invalid = (message: string) =>
  Effect.fail(new InvalidRandomCheckpointOptions({ message, remediation: "start from one of `presets` and change only the sizes" }))

const validate = (options: RandomCheckpointOptions): Effect.Effect<void, InvalidRandomCheckpointOptions> => {
  for (const name of ["semantic", "coarse", "fine"] as const) {
    const { hidden, heads, layers } = options[name]
    const whole = [hidden, heads, layers].every((n) => Number.isInteger(n) && n >= 1)
    if (!whole || hidden > MAX_HIDDEN || layers > MAX_LAYERS || hidden % heads !== 0) {
      return invalid(
        `${name} size ${JSON.stringify(options[name])} is invalid: hidden 1..${MAX_HIDDEN} divisible by heads, layers 1..${MAX_LAYERS}`
      )
    }
  }
  if (!Number.isInteger(options.codecFilters) || options.codecFilters < 2 || options.codecFilters % 2 !== 0 || options.codecFilters > 256) {
    return invalid(`codecFilters ${options.codecFilters} is invalid: use an even number from 2 to 256 (the real codec has 32)`)
  }
  if (!Number.isInteger(options.codebooks) || options.codebooks < 8 || options.codebooks > MAX_CODEBOOKS) {
    return invalid(`codebooks ${options.codebooks} is invalid: Bark decodes 8, the real codec stores 32; use 8..${MAX_CODEBOOKS}`)
  }
  if (!Number.isInteger(options.seed)) return invalid(`seed ${options.seed} must be an integer`)
  return Effect.void
}

/** Generates a random Bark checkpoint (`config.json` object and tensors) for `options`. */
export const makeRandomCheckpoint = Effect.fn("makeRandomCheckpoint")(function*(options: RandomCheckpointOptions) {
  yield* validate(options)
  const random = makeRandom(options.seed)
  const sink = new TensorSink(random, options.dtype)
  causalGpt(sink, "semantic", options.semantic, VOCAB.semantic, options.bias)
  causalGpt(sink, "coarse_acoustics", options.coarse, VOCAB.coarse, options.bias)
  fineGpt(sink, options.fine, options.bias, options.fineHeads)
  codec(sink, random, options)
  return { config: barkConfig(options), tensors: sink.tensors } satisfies RandomCheckpoint
})
