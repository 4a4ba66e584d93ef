/**
 * `bark-pipeline/bark`: Bark on onnxruntime-node as stages and services —
 * the declared recipes, each stage of the startup recipe (to reorder, swap
 * or skip), the services they provide, the engines, the inference backend
 * and the settings.
 *
 * ```ts
 * import { Pipeline } from "bark-pipeline/pipeline"
 * import { recipes, ModelFiles, FetchWeights } from "bark-pipeline/bark"
 * const offline = recipes.startup.pipe(Pipeline.replace(ModelFiles, myLocalModelStage))
 * ```
 *
 * @since 0.3.0
 */
import cpu from "../../pipelines/cpu.ts"
import cuda from "../../pipelines/cuda.ts"
import demo from "../../pipelines/demo.ts"
import * as Recipes from "./synthesis/recipes.ts"
import startup from "../../pipelines/startup.ts"

/** The declared recipes: `startup` (hub model, best device), `cpu`, `cuda` (strict) and the offline `demo`. */
export const recipes = { startup, cpu, cuda, demo } as const

/** The shipped synthesis recipes, run per request: `synthesis` (the default) and the `draft` lane (no fine stage, 1.5 kbps). */
export const synthesisRecipes = { synthesis: Recipes.synthesis, draft: Recipes.draft } as const
export * as SynthesisRecipe from "./synthesis/SynthesisRecipe.ts"
export * as SynthesisServices from "./synthesis/services.ts"
export { BarkSteps, type Sampled, type StepInput } from "./synthesis/BarkSteps.ts"
export * as SynthesisStages from "./synthesis/stages.ts"
export * as AudioCache from "./synthesis/AudioCacheStore.ts"
export { normalizeEnglish, numberToWords } from "./normalizeEnglish.ts"

export * as CacheDirs from "./stages/cacheDirs.ts"
export * as Compile from "./stages/compile.ts"
export * as DemoModel from "../dev/demo/demoModel.ts"
export * as Device from "./stages/device.ts"
export * as Environment from "./stages/environment.ts"
export * as FetchWeights from "./stages/fetchWeights.ts"
export * as Preload from "./stages/preload.ts"
export * as Ready from "./stages/ready.ts"
export * as SafeLoad from "./stages/safeLoad.ts"
export * as Settings from "./settings.ts"

export { CompiledModels, ConvertedModel, ModelFiles, PreloadedModels } from "./services.ts"
export {
  type AudioChunk,
  BarkEngine,
  type Synthesis,
  SynthesisError,
  type SynthesisOptions,
  type SynthesisProgress,
  type Temperatures
} from "./engine/BarkEngine.ts"
export { type EngineOptions, makeBarkEngine } from "./engine/inProcess.ts"
export { makeWorkerEngine, WorkerEngineError, type WorkerSpec } from "./engine/workerEngine.ts"
export { convertModelDir, openModelDir, type OpenModelDirOptions } from "./engine/openModelDir.ts"
export { openModels, type OpenModelsOptions } from "./loadModels.ts"
export { type BarkModels, type CausalLM, type CodecDecoder, type FineLM, SUB_MODELS, type SubModel } from "./models.ts"
export { type AccuracyLevel, DTYPES, type Dtype } from "./dtype.ts"
export { decodeWav, encodeWav, type Wav, WavError, type WavFormat } from "../audio/wav.ts"
export { InferenceBackend, type SessionOptions } from "../onnx/InferenceBackend.ts"
export { InferenceError } from "../onnx/InferenceError.ts"
