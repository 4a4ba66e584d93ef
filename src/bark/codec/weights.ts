/**
 * The EnCodec decoder's weights, read from a Bark checkpoint's `codec_model.`
 * tensors into float32 arrays laid out like `CodecLayout`.
 *
 * Convolutions are weight-normalised in the checkpoint. Both spellings are
 * accepted — legacy `weight_g`/`weight_v` and the parametrization API's
 * `parametrizations.weight.original0/original1` — as is a plain `weight`;
 * the norm is folded once here: W[a] = g[a] · v[a] / ‖v[a]‖ over every axis but
 * 0 (the output channel of a Conv1d, the input channel of a ConvTranspose1d),
 * with no epsilon, as PyTorch computes it. F16/BF16 tensors are upcast.
 * The encoder, `embed_avg`, `cluster_size`, `inited` and codebooks past the
 * first `BARK_CODEBOOKS` are not read.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { numel, toFloat32, type Tensor, type Weights } from "../../checkpoint/Tensor.ts"
import { BARK_CODEBOOKS, type CodecLayout, type ConvLayer, type UpsampleLayer } from "./config.ts"

export class CodecWeightsError extends Schema.TaggedError<CodecWeightsError>()("CodecWeightsError", {
  /** The checkpoint key at fault. */
  tensor: Schema.String,
  message: Schema.String,
  remediation: Schema.String
}) {}

/** A folded convolution: `weight` in PyTorch/ONNX layout (Conv [out, in, k], ConvTranspose [in, out, k]). */
export interface ConvWeights {
  readonly shape: readonly [number, number, number]
  readonly weight: Float32Array
  readonly bias: Float32Array
}

/** One LSTM layer in PyTorch layout: gate blocks i, f, g, o of `width` rows each. */
export interface LstmLayerWeights {
  /** [4·width, width] */
  readonly inputWeight: Float32Array
  /** [4·width, width] */
  readonly recurrentWeight: Float32Array
  /** [4·width] */
  readonly inputBias: Float32Array
  /** [4·width] */
  readonly recurrentBias: Float32Array
}

export interface ResidualWeights {
  readonly first: ConvWeights
  readonly second: ConvWeights
  readonly shortcut?: ConvWeights
}

export interface CodecWeights {
  /** The first `BARK_CODEBOOKS` codebooks, each [codebookSize, codebookDim] row-major. */
  readonly codebooks: ReadonlyArray<Float32Array>
  readonly firstConv: ConvWeights
  readonly lstm: ReadonlyArray<LstmLayerWeights>
  readonly stages: ReadonlyArray<{ readonly upsample: ConvWeights; readonly residuals: ReadonlyArray<ResidualWeights> }>
  readonly lastConv: ConvWeights
}

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16", "F64"])
const CHECKPOINT_HINT = "check that the checkpoint is a complete Hugging Face BarkModel whose codec_config matches its codec_model tensors"

const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => a.length === b.length && a.every((n, i) => n === b[i])

/** Reads one float tensor of exactly `shape` (or, with `loose`, any shape with the same first axis and element count). */
const readTensor = (
  weights: Weights,
  key: string,
  shape: ReadonlyArray<number>,
  loose = false
): Effect.Effect<Float32Array, CodecWeightsError> => {
  const t: Tensor | undefined = weights.get(key)
  if (t === undefined) {
    return Effect.fail(new CodecWeightsError({ tensor: key, message: `codec tensor ${key} is missing`, remediation: CHECKPOINT_HINT }))
  }
  const fits = sameShape(t.shape, shape) || (loose && t.shape[0] === shape[0] && numel(t.shape) === numel(shape))
  if (!fits) {
    return Effect.fail(
      new CodecWeightsError({
        tensor: key,
        message: `codec tensor ${key} has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`,
        remediation: CHECKPOINT_HINT
      })
    )
  }
  if (!FLOAT_DTYPES.has(t.dtype)) {
    return Effect.fail(
      new CodecWeightsError({ tensor: key, message: `codec tensor ${key} is ${t.dtype}, expected a float dtype`, remediation: CHECKPOINT_HINT })
    )
  }
  return Effect.succeed(toFloat32(t))
}

/** W[a] = g[a] · v[a] / ‖v[a]‖, the norm over all axes but 0. */
export const foldWeightNorm = (g: Float32Array, v: Float32Array, rows: number): Float32Array => {
  const per = v.length / rows
  const w = new Float32Array(v.length)
  for (let a = 0; a < rows; a++) {
    let sum = 0
    for (let i = a * per; i < (a + 1) * per; i++) sum += v[i]! * v[i]!
    const scale = g[a]! / Math.sqrt(sum)
    for (let i = a * per; i < (a + 1) * per; i++) w[i] = v[i]! * scale
  }
  return w
}

const WEIGHT_NORM_SPELLINGS = [
  ["weight_g", "weight_v"],
  ["parametrizations.weight.original0", "parametrizations.weight.original1"]
] as const

const readConv = (
  weights: Weights,
  prefix: string,
  name: string,
  shape: readonly [number, number, number],
  biasSize: number
) =>
  Effect.gen(function*() {
    const base = `${prefix}${name}`
    const spelling = WEIGHT_NORM_SPELLINGS.find(([, v]) => weights.has(`${base}.${v}`))
    let weight: Float32Array
    if (spelling !== undefined) {
      const [gKey, vKey] = spelling
      const v = yield* readTensor(weights, `${base}.${vKey}`, shape)
      const g = yield* readTensor(weights, `${base}.${gKey}`, [shape[0], 1, 1], true)
      weight = foldWeightNorm(g, v, shape[0])
    } else if (weights.has(`${base}.weight`)) {
      weight = yield* readTensor(weights, `${base}.weight`, shape)
    } else {
      return yield* new CodecWeightsError({
        tensor: `${base}.weight_v`,
        message: `codec convolution ${base} has no weights (looked for weight_g/weight_v, parametrizations.weight.original0/original1 and weight)`,
        remediation: CHECKPOINT_HINT
      })
    }
    const bias = yield* readTensor(weights, `${base}.bias`, [biasSize])
    return { shape, weight, bias } satisfies ConvWeights
  })

const readConv1d = (weights: Weights, prefix: string, l: ConvLayer) =>
  readConv(weights, prefix, l.name, [l.outChannels, l.inChannels, l.kernel], l.outChannels)

const readConvTranspose1d = (weights: Weights, prefix: string, l: UpsampleLayer) =>
  readConv(weights, prefix, l.name, [l.inChannels, l.outChannels, l.kernel], l.outChannels)

const readLstmLayer = (weights: Weights, prefix: string, layout: CodecLayout, n: number) =>
  Effect.gen(function*() {
    const base = `${prefix}${layout.lstmName}`
    const width = layout.lstmWidth
    return {
      inputWeight: yield* readTensor(weights, `${base}.weight_ih_l${n}`, [4 * width, width]),
      recurrentWeight: yield* readTensor(weights, `${base}.weight_hh_l${n}`, [4 * width, width]),
      inputBias: yield* readTensor(weights, `${base}.bias_ih_l${n}`, [4 * width]),
      recurrentBias: yield* readTensor(weights, `${base}.bias_hh_l${n}`, [4 * width])
    } satisfies LstmLayerWeights
  })

/**
 * Reads and folds the decoder weights described by `layout` from a checkpoint
 * whose codec tensors are named `<prefix>quantizer…` / `<prefix>decoder…`.
 */
export const loadCodecWeights = Effect.fn("loadCodecWeights")(function*(
  weights: Weights,
  layout: CodecLayout,
  prefix = "codec_model."
) {
  const codebooks = yield* Effect.forEach(Array.from({ length: BARK_CODEBOOKS }, (_, k) => k), (k) =>
    readTensor(weights, `${prefix}quantizer.layers.${k}.codebook.embed`, [layout.codebookSize, layout.codebookDim]))
  const firstConv = yield* readConv1d(weights, prefix, layout.firstConv)
  const lstm = yield* Effect.forEach(Array.from({ length: layout.lstmLayers }, (_, n) => n), (n) =>
    readLstmLayer(weights, prefix, layout, n))
  const stages = yield* Effect.forEach(layout.stages, (stage) =>
    Effect.gen(function*() {
      const upsample = yield* readConvTranspose1d(weights, prefix, stage.upsample)
      const residuals = yield* Effect.forEach(stage.residuals, (block) =>
        Effect.gen(function*() {
          const first = yield* readConv1d(weights, prefix, block.first)
          const second = yield* readConv1d(weights, prefix, block.second)
          if (block.shortcut === undefined) return { first, second } satisfies ResidualWeights
          return { first, second, shortcut: yield* readConv1d(weights, prefix, block.shortcut) } satisfies ResidualWeights
        }))
      return { upsample, residuals }
    }))
  const lastConv = yield* readConv1d(weights, prefix, layout.lastConv)
  return { codebooks, firstConv, lstm, stages, lastConv } satisfies CodecWeights
})
