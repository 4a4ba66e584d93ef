/**
 * `bark-pipeline/testing`: what a test suite needs to run recipes without
 * real weights or models — the mock engine (deterministic audio per text,
 * voice and seed) and its stage, the mock recipe, the inference backend's
 * `Mock` layer, tiny random Bark checkpoints with the real layout (to load
 * through the real stages), and the in-memory trace sink.
 *
 * ```ts
 * import { Pipeline } from "bark-pipeline/pipeline"
 * import { BarkEngine, recipes } from "bark-pipeline/bark"
 * import { MockEngine } from "bark-pipeline/testing"
 * const fast = recipes.startup.pipe(Pipeline.replace(BarkEngine, MockEngine.stage))
 * ```
 *
 * @since 0.3.0
 */
import mock from "../../pipelines/mock.ts"

/** The mock profile: environment, cache, then the mock engine (no weights). */
export const mockRecipe = mock

export * as MockEngine from "../bark/engine/mock.ts"
export { InferenceBackend } from "../onnx/InferenceBackend.ts"
export {
  type GptSize,
  InvalidRandomCheckpointOptions,
  makeRandomCheckpoint,
  presets,
  type RandomCheckpoint,
  type RandomCheckpointOptions
} from "../dev/randomCheckpoint.ts"
export { type ModelDirOptions, writeBarkModelDir } from "../dev/modelDir.ts"
export * as MemorySink from "../pipeline/sinks/memory.ts"
