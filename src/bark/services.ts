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
import type { SessionOptions } from "../onnx/InferenceBackend.ts"
import type { BarkConfig } from "./config.ts"
import type { Dtype } from "./dtype.ts"
import type { SubModel } from "./models.ts"
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

/**
 * safe-load: the model converted into the graph cache (now, from the
 * validated checkpoint, or found there by an earlier start): the path of each
 * sub-model's graph and the model's config. No weights are held.
 */
export class ConvertedModel extends Context.Service<ConvertedModel, {
  readonly config: BarkConfig
  /** Each sub-model's `.onnx` in the graph cache (weights in external data beside it). */
  readonly graphs: Readonly<Record<SubModel, string>>
  /** The graph-cache entry's key. */
  readonly key: string
  /** The weight type of the graphs (BARK_DTYPE). */
  readonly dtype: Dtype
  /** sha256 of the checkpoint file. */
  readonly sha256: string
  /** Whether the entry was found in the cache (the checkpoint was not read). */
  readonly cached: boolean
}>()("bark-pipeline/ConvertedModel") {}

/** preload: the four sub-models, with sessions on the chosen device (opened lazily when offloading). */
export class PreloadedModels extends Context.Service<PreloadedModels, {
  /** Undefined when the engine opens its own sessions (BARK_ENGINE=worker: the main thread opens none). */
  readonly models: BarkModels | undefined
  /** Whether sessions are created per use and released after (SUNO_OFFLOAD_CPU). */
  readonly offload: boolean
  /** How the sessions are opened (optimisation level, prepacking): the worker engine opens its own the same way. */
  readonly sessionOptions: Omit<SessionOptions, "model">
}>()("bark-pipeline/PreloadedModels") {}

/** compile: the models to serve with, warmed up (or preload's passed through). */
export class CompiledModels extends Context.Service<CompiledModels, {
  /** Undefined when the engine opens its own sessions (worker engine). */
  readonly models: BarkModels | undefined
  /** The optimisation level the sessions were opened with. */
  readonly optimization: string
  readonly warmedUp: boolean
}>()("bark-pipeline/CompiledModels") {}
