/**
 * The three GPTs' logits under two weight formats (./gpt/weightFormat.ts),
 * compared on the same teacher-forced inputs: every position of a semantic
 * and a coarse sequence, and every predicted codebook of a fine window.
 *
 * It answers two questions about a quantised dtype: how far it is from
 * float32 (quantisation noise), and whether its graph computes exactly what
 * its dequantised weights say (packing, scales and zero points right).
 *
 * @since 0.3.0
 */
import { Effect, FileSystem, Path } from "effect"
import { decodeNpy } from "../checkpoint/npy.ts"
import { decode as decodeSafetensors } from "../checkpoint/safetensors.ts"
import { toInt32, type Weights } from "../checkpoint/Tensor.ts"
import { concatFloat32 } from "../files/bytes.ts"
import { InferenceBackend } from "../onnx/InferenceBackend.ts"
import { type BarkConfig, loadBarkConfig } from "../bark/config.ts"
import { argmax } from "../bark/generate/sampling.ts"
import { makeCausalGpt } from "../bark/gpt/causalLM.ts"
import { makeFineLM } from "../bark/gpt/fineLM.ts"
import type { WeightFormat } from "../bark/gpt/weightFormat.ts"
import { causalGptWeights, fineGptWeights } from "../bark/gpt/weights.ts"

/** Token ids fed whole: the semantic and coarse sequences, and the fine window's codes `[frames, nCodes]` row-major. */
export interface TeacherForcedInputs {
  readonly semantic: Int32Array
  readonly coarse: Int32Array
  readonly fine: Int32Array
}

/** How the logits of format `a` differ from those of `b` (the reference) on one sub-model. */
export interface LogitsDifference {
  readonly model: "semantic" | "coarse" | "fine"
  /** Rows of logits compared (positions; for fine, positions × predicted codebooks). */
  readonly rows: number
  readonly maxAbs: number
  /** ‖a − b‖₂ / ‖b‖₂ over all logits. */
  readonly relL2: number
  /** Fraction of rows whose argmax agrees. */
  readonly top1Agreement: number
}

const difference = (model: LogitsDifference["model"], a: Float32Array, b: Float32Array, vocab: number): LogitsDifference => {
  let maxAbs = 0
  let diff2 = 0
  let ref2 = 0
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!
    maxAbs = Math.max(maxAbs, Math.abs(d))
    diff2 += d * d
    ref2 += b[i]! * b[i]!
  }
  const rows = a.length / vocab
  let agree = 0
  for (let r = 0; r < rows; r++) {
    if (argmax(a.subarray(r * vocab, (r + 1) * vocab)) === argmax(b.subarray(r * vocab, (r + 1) * vocab))) agree++
  }
  return { model, rows, maxAbs, relL2: Math.sqrt(diff2 / ref2), top1Agreement: agree / rows }
}

/** Logits of each GPT of `weights` under `format`, on `inputs`. */
const logitsUnder = Effect.fnUntraced(function*(weights: Weights, config: BarkConfig, inputs: TeacherForcedInputs, format: WeightFormat) {
  const backend = yield* InferenceBackend
  const causal = Effect.fnUntraced(function*(model: "semantic" | "coarse", ids: Int32Array) {
    const [prefix, section] = model === "semantic"
      ? ["semantic", config.semantic_config] as const
      : ["coarse_acoustics", config.coarse_acoustics_config] as const
    const gpt = yield* makeCausalGpt(model, yield* causalGptWeights(weights, prefix, section), backend, { logitsFor: "all", format })
    return { logits: (yield* gpt.prefill(ids)).logits, vocab: gpt.outputVocabSize }
  })
  const fineConfig = config.fine_acoustics_config
  const fine = yield* makeFineLM(yield* fineGptWeights(weights, fineConfig), backend, format)
  const perCodebook: Array<Float32Array> = []
  for (let pred = fineConfig.n_codes_given; pred < fineConfig.n_codes_total; pred++) perCodebook.push(yield* fine.run(inputs.fine, pred))
  return {
    semantic: yield* causal("semantic", inputs.semantic),
    coarse: yield* causal("coarse", inputs.coarse),
    fine: { logits: concatFloat32(perCodebook), vocab: fine.outputVocabSize }
  }
}, Effect.scoped)

/** The logits of format `a` against those of the reference format `b`, sub-model by sub-model. */
export const compareFormats = Effect.fn("compareFormats")(function*(
  weights: Weights,
  config: BarkConfig,
  inputs: TeacherForcedInputs,
  a: WeightFormat,
  b: WeightFormat
) {
  const ours = yield* logitsUnder(weights, config, inputs, a)
  const reference = yield* logitsUnder(weights, config, inputs, b)
  return (["semantic", "coarse", "fine"] as const).map((model) =>
    difference(model, ours[model].logits, reference[model].logits, ours[model].vocab)
  )
})

/** A golden case folder's weights, config and teacher-forced inputs (semantic_input_ids, coarse_input_ids, fine_input_codes). */
export const goldenCase = Effect.fn("goldenCase")(function*(caseDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const file = (name: string) => path.join(caseDir, name)
  const ids = (name: string) => Effect.flatMap(fs.readFile(file(name)), (bytes) => Effect.map(decodeNpy(bytes, file(name)), toInt32))
  const config = yield* loadBarkConfig(file("config.json"))
  const checkpoint = yield* Effect.flatMap(fs.readFile(file("model.safetensors")), (bytes) => decodeSafetensors(bytes, file("model.safetensors")))
  const inputs: TeacherForcedInputs = {
    semantic: yield* ids("semantic_input_ids.npy"),
    coarse: yield* ids("coarse_input_ids.npy"),
    fine: yield* ids("fine_input_codes.npy")
  }
  return { weights: checkpoint.tensors, config, inputs }
})
