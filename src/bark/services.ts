/**
 * The services the stages of the Bark startup recipe provide, in recipe
 * order. Each stage module (src/bark/stages/*) builds one of them; keeping
 * the keys together lets recipes, tests and the server name them without
 * importing stage implementations.
 *
 * `CacheDirs` (cache-dirs) and `RuntimeEnvironment` (environment) live with
 * their stages; the device stage provides `InferenceBackend` (src/onnx).
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import type { Weights } from "../checkpoint/Tensor.ts"
import type { BarkConfig } from "./config.ts"
import type { BarkModels } from "./models.ts"

/** fetch-weights: the model repository's files on local disk, at a pinned revision. */
export class ModelFiles extends Context.Service<ModelFiles, {
  /** "hub" when fetched (or found in the HF cache), "local" for a directory given as the model. */
  readonly source: "hub" | "local"
  /** The repo id, or the directory for a local model. */
  readonly model: string
  readonly revision: string | undefined
  readonly commit: string | undefined
  /** Directory holding config.json, the weights, vocab.txt and speaker_embeddings/ (a snapshot folder for hub models). */
  readonly dir: string
  /** Relative paths of the files present, weights first. */
  readonly files: ReadonlyArray<string>
  /** The weights file, relative to `dir` (model.safetensors or pytorch_model.bin). */
  readonly weightsFile: string
  /** sha256 of the weights file when known without hashing (the hub's LFS id); else computed by safe-load. */
  readonly weightsSha256: string | undefined
}>()("bark-pipeline/ModelFiles") {}

/** safe-load: validated weights and the model config. */
export class LoadedWeights extends Context.Service<LoadedWeights, {
  readonly config: BarkConfig
  readonly tensors: Weights
  readonly format: "safetensors" | "torch"
  /** sha256 of the weights file: the key of the graph cache. */
  readonly sha256: string
}>()("bark-pipeline/LoadedWeights") {}

/** preload: the four sub-models, with sessions on the chosen device (created lazily when offloading). */
export class PreloadedModels extends Context.Service<PreloadedModels, {
  readonly models: BarkModels
  /** Whether sessions are created per use and released after (SUNO_OFFLOAD_CPU). */
  readonly offload: boolean
  /** Where the built graphs live in the graph cache. */
  readonly graphDir: string
}>()("bark-pipeline/PreloadedModels") {}

/** compile: the models to serve with — optimised and warmed up, or preload's models passed through. */
export class CompiledModels extends Context.Service<CompiledModels, {
  readonly models: BarkModels
  readonly optimized: boolean
  readonly warmedUp: boolean
}>()("bark-pipeline/CompiledModels") {}
