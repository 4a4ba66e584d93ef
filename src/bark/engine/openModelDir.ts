/**
 * Opens the four Bark sub-models of a model directory (config.json and the
 * weights) on an inference backend, with sessions released with the scope.
 * The worker engine loads its models this way: sessions cannot cross threads.
 *
 * @since 0.1.0
 */
import { Effect, Path } from "effect"
import { loadCheckpoint } from "../../checkpoint/load.ts"
import { InferenceBackend } from "../../onnx/InferenceBackend.ts"
import { makeCodecDecoder } from "../codec/decoder.ts"
import { loadBarkConfig } from "../config.ts"
import { makeCausalGpt } from "../gpt/causalLM.ts"
import { makeFineLM } from "../gpt/fineLM.ts"
import { causalGptWeights, fineGptWeights } from "../gpt/weights.ts"
import type { BarkModels } from "../models.ts"

/** `weightsFile` is relative to `modelDir`; default model.safetensors. */
export const openModelDir = Effect.fn("openModelDir")(function*(modelDir: string, weightsFile = "model.safetensors") {
  const path = yield* Path.Path
  const backend = yield* InferenceBackend
  const config = yield* loadBarkConfig(path.join(modelDir, "config.json"))
  const { tensors } = yield* loadCheckpoint(path.join(modelDir, weightsFile))
  const models: BarkModels = {
    semantic: yield* makeCausalGpt("semantic", yield* causalGptWeights(tensors, "semantic", config.semantic_config), backend),
    coarse: yield* makeCausalGpt(
      "coarse",
      yield* causalGptWeights(tensors, "coarse_acoustics", config.coarse_acoustics_config),
      backend
    ),
    fine: yield* makeFineLM(yield* fineGptWeights(tensors, config.fine_acoustics_config), backend),
    codec: yield* makeCodecDecoder(tensors, config.codec_config, backend)
  }
  return models
})
