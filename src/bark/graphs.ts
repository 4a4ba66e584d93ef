/**
 * One Bark sub-model's graph from a checkpoint's tensors: the one place that
 * knows which tensors each sub-model reads and which builder makes its graph.
 * Conversion (./convert.ts) calls it once per sub-model with only that
 * sub-model's tensors in memory; `buildModels` calls it for in-memory models.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { Weights } from "../checkpoint/Tensor.ts"
import { GraphError } from "../onnx/graph.ts"
import type { BuiltModel } from "../onnx/graph.ts"
import { InferenceError } from "../onnx/InferenceError.ts"
import { codecLayout } from "./codec/config.ts"
import { buildCodecGraph } from "./codec/graph.ts"
import { loadCodecWeights } from "./codec/weights.ts"
import type { BarkConfig } from "./config.ts"
import { causalGptGraph, fineGptGraph } from "./gpt/graph.ts"
import { fp32, type WeightFormat } from "./gpt/weightFormat.ts"
import { causalGptWeights, fineGptWeights } from "./gpt/weights.ts"
import type { SubModel } from "./models.ts"

/** The checkpoint prefix of each sub-model's tensors (Hugging Face BarkModel names). */
export const tensorPrefix: Readonly<Record<SubModel, string>> = {
  semantic: "semantic.",
  coarse: "coarse_acoustics.",
  fine: "fine_acoustics.",
  codec: "codec_model."
}

const built = (model: SubModel, make: () => BuiltModel) =>
  Effect.try({
    try: make,
    catch: (cause) =>
      new InferenceError({
        model,
        message: `could not build the ${model} graph: ${cause instanceof GraphError || cause instanceof Error ? cause.message : String(cause)}`,
        remediation: "check that the checkpoint matches its config.json"
      })
  })

/**
 * The graph of `model` from `tensors` (which need hold only that sub-model's),
 * the GPTs' matrices held as `format` says (the codec is always float32).
 */
export const subModelGraph = (model: SubModel, tensors: Weights, config: BarkConfig, format: WeightFormat = fp32) => {
  switch (model) {
    case "semantic":
    case "coarse": {
      const [prefix, section] = model === "semantic"
        ? ["semantic", config.semantic_config] as const
        : ["coarse_acoustics", config.coarse_acoustics_config] as const
      return Effect.flatMap(causalGptWeights(tensors, prefix, section), (w) => built(model, () => causalGptGraph(w, "last", format)))
    }
    case "fine":
      return Effect.flatMap(fineGptWeights(tensors, config.fine_acoustics_config), (w) => built(model, () => fineGptGraph(w, format)))
    case "codec":
      return Effect.gen(function*() {
        const layout = yield* codecLayout(config.codec_config)
        const weights = yield* loadCodecWeights(tensors, layout)
        return yield* built(model, () => buildCodecGraph(layout, weights, { externalDataPath: "weights.bin" }))
      })
  }
}
