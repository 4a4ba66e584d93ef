/**
 * The tensors of Bark's three GPTs, picked from a checkpoint by their Hugging
 * Face names (`semantic.`, `coarse_acoustics.`, `fine_acoustics.`), checked
 * against the config's shapes and upcast to float32.
 *
 * Linear biases exist only when `config.bias` is true. The semantic/coarse
 * LayerNorms have a bias only then too; the fine model's LayerNorms always
 * have one. A fine `lm_heads.{i}` missing from the file is read from its tied
 * partner `input_embeds_layers.{i+1}`. The `*.attn.bias` causal-mask buffers
 * are never read.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { toFloat32, type Weights } from "../../checkpoint/Tensor.ts"
import type { FineConfig, GptConfig } from "../config.ts"

/** A float32 parameter and its shape (PyTorch layout: Linear weights are [out, in]). */
export interface Param {
  readonly data: Float32Array
  readonly shape: ReadonlyArray<number>
}

export interface Norm {
  readonly weight: Param
  readonly bias?: Param
}

export interface Linear {
  readonly weight: Param
  readonly bias?: Param
}

export interface Block {
  readonly ln1: Norm
  readonly attnQkv: Linear
  readonly attnOut: Linear
  readonly ln2: Norm
  readonly mlpIn: Linear
  readonly mlpOut: Linear
}

export interface GptCommon {
  readonly hiddenSize: number
  readonly numHeads: number
  readonly blockSize: number
  readonly positionEmbedding: Param
  readonly blocks: ReadonlyArray<Block>
  readonly lnFinal: Norm
}

/** The `config.json` fields every GPT's weights determine: layers, heads, width, positions. */
export const commonDims = (w: GptCommon) => ({
  num_layers: w.blocks.length,
  num_heads: w.numHeads,
  hidden_size: w.hiddenSize,
  block_size: w.blockSize
})

/** Semantic or coarse: one input embedding, one LM head. */
export interface CausalGptWeights extends GptCommon {
  readonly tokenEmbedding: Param
  readonly lmHead: Param
}

/** Fine: one embedding per codebook, one head per predicted codebook (`lmHeads[k - nCodesGiven]` predicts codebook k). */
export interface FineGptWeights extends GptCommon {
  readonly nCodesGiven: number
  readonly tokenEmbeddings: ReadonlyArray<Param>
  readonly lmHeads: ReadonlyArray<Param>
}

export class GptWeightsError extends Schema.TaggedError<GptWeightsError>()("GptWeightsError", {
  /** The tensor at fault, by its checkpoint name. */
  tensor: Schema.String,
  message: Schema.String,
  remediation: Schema.String
}) {}

export type CausalPrefix = "semantic" | "coarse_acoustics"

const remediation =
  "the checkpoint does not match its config.json: use the model.safetensors / pytorch_model.bin and config.json of the same Bark repository revision"

const floatTypes = new Set(["F32", "F16", "BF16"])

/** A reader over one sub-model's tensors. */
const reader = (weights: Weights, prefix: string) => {
  const has = (name: string) => weights.has(`${prefix}.${name}`)
  const param = (name: string, shape: ReadonlyArray<number>): Effect.Effect<Param, GptWeightsError> => {
    const key = `${prefix}.${name}`
    const t = weights.get(key)
    if (t === undefined) {
      return Effect.fail(new GptWeightsError({ tensor: key, message: `missing tensor ${key} (expected shape [${shape.join(", ")}])`, remediation }))
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      return Effect.fail(
        new GptWeightsError({ tensor: key, message: `tensor ${key} has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`, remediation })
      )
    }
    if (!floatTypes.has(t.dtype)) {
      return Effect.fail(new GptWeightsError({ tensor: key, message: `tensor ${key} is ${t.dtype}, expected F32, F16 or BF16`, remediation }))
    }
    return Effect.succeed({ data: toFloat32(t), shape: [...shape] })
  }
  const optional = (present: boolean, name: string, shape: ReadonlyArray<number>) =>
    present ? Effect.map(param(name, shape), (p) => ({ bias: p })) : Effect.succeed({})
  const norm = (name: string, h: number, withBias: boolean): Effect.Effect<Norm, GptWeightsError> =>
    Effect.gen(function*() {
      return { weight: yield* param(`${name}.weight`, [h]), ...(yield* optional(withBias, `${name}.bias`, [h])) }
    })
  const linear = (name: string, out: number, inp: number, withBias: boolean): Effect.Effect<Linear, GptWeightsError> =>
    Effect.gen(function*() {
      return { weight: yield* param(`${name}.weight`, [out, inp]), ...(yield* optional(withBias, `${name}.bias`, [out])) }
    })
  return { has, param, norm, linear }
}

const common = Effect.fnUntraced(function*(
  r: ReturnType<typeof reader>,
  config: GptConfig,
  normBias: boolean
) {
  const h = config.hidden_size
  const blocks: Array<Block> = []
  for (let i = 0; i < config.num_layers; i++) {
    const p = `layers.${i}`
    blocks.push({
      ln1: yield* r.norm(`${p}.layernorm_1`, h, normBias),
      attnQkv: yield* r.linear(`${p}.attn.att_proj`, 3 * h, h, config.bias),
      attnOut: yield* r.linear(`${p}.attn.out_proj`, h, h, config.bias),
      ln2: yield* r.norm(`${p}.layernorm_2`, h, normBias),
      mlpIn: yield* r.linear(`${p}.mlp.in_proj`, 4 * h, h, config.bias),
      mlpOut: yield* r.linear(`${p}.mlp.out_proj`, h, 4 * h, config.bias)
    })
  }
  return {
    hiddenSize: h,
    numHeads: config.num_heads,
    blockSize: config.block_size,
    positionEmbedding: yield* r.param("position_embeds_layer.weight", [config.block_size, h]),
    blocks,
    lnFinal: yield* r.norm("layernorm_final", h, normBias)
  }
})

/** The semantic (`"semantic"`) or coarse (`"coarse_acoustics"`) GPT. */
export const causalGptWeights = Effect.fn("causalGptWeights")(function*(
  weights: Weights,
  prefix: CausalPrefix,
  config: GptConfig
) {
  const r = reader(weights, prefix)
  const h = config.hidden_size
  const shared = yield* common(r, config, config.bias)
  const weightsOut: CausalGptWeights = {
    ...shared,
    tokenEmbedding: yield* r.param("input_embeds_layer.weight", [config.input_vocab_size, h]),
    lmHead: yield* r.param("lm_head.weight", [config.output_vocab_size, h])
  }
  return weightsOut
})

/** The fine GPT. */
export const fineGptWeights = Effect.fn("fineGptWeights")(function*(weights: Weights, config: FineConfig) {
  const r = reader(weights, "fine_acoustics")
  const h = config.hidden_size
  const shared = yield* common(r, config, true)
  const tokenEmbeddings: Array<Param> = []
  for (let i = 0; i < config.n_codes_total; i++) {
    tokenEmbeddings.push(yield* r.param(`input_embeds_layers.${i}.weight`, [config.input_vocab_size, h]))
  }
  const lmHeads: Array<Param> = []
  for (let i = 0; i < config.n_codes_total - config.n_codes_given; i++) {
    const head = `lm_heads.${i}.weight`
    // Tied to input_embeds_layers.{i+1}; a converted file may store only that one.
    lmHeads.push(
      r.has(head) || config.input_vocab_size !== config.output_vocab_size
        ? yield* r.param(head, [config.output_vocab_size, h])
        : tokenEmbeddings[i + 1]!
    )
  }
  const weightsOut: FineGptWeights = { ...shared, nCodesGiven: config.n_codes_given, tokenEmbeddings, lmHeads }
  return weightsOut
})
