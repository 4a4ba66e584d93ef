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
import { loadBarkConfig } from "../config.ts"
import { loadModels } from "../loadModels.ts"

/** `weightsFile` is relative to `modelDir`; default model.safetensors. */
export const openModelDir = Effect.fn("openModelDir")(function*(modelDir: string, weightsFile = "model.safetensors") {
  const path = yield* Path.Path
  const backend = yield* InferenceBackend
  const config = yield* loadBarkConfig(path.join(modelDir, "config.json"))
  const { tensors } = yield* loadCheckpoint(path.join(modelDir, weightsFile))
  return yield* loadModels({ config, tensors }, backend)
})
