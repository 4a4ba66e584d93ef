/**
 * Opens the four Bark sub-models of a model directory (config.json and the
 * weights) on an inference backend, with sessions released with the scope:
 * the checkpoint is converted into the graph cache under `ownDir` the first
 * time (see ../convert.ts), and every later call opens the cached graphs by
 * path without reading it.
 *
 * @since 0.1.0
 */
import { Effect, Path } from "effect"
import { InferenceBackend } from "../../onnx/InferenceBackend.ts"
import { loadBarkConfig } from "../config.ts"
import { convertOnce } from "../convert.ts"
import { openModels, type OpenModelsOptions } from "../loadModels.ts"
import * as Settings from "../settings.ts"

export interface OpenModelDirOptions extends OpenModelsOptions {
  /** Relative to the model directory; default model.safetensors. */
  readonly weightsFile?: string
  /** This project's cache folder; default `{cache root}/bark-pipeline` (BARK_CACHE_DIR, HF_HOME, XDG_CACHE_HOME). */
  readonly ownDir?: string
}

/** The converted model of a model directory: converted into the graph cache the first time, found there after. */
export const convertModelDir = Effect.fn("convertModelDir")(function*(
  modelDir: string,
  options: Pick<OpenModelDirOptions, "weightsFile" | "ownDir"> = {}
) {
  const path = yield* Path.Path
  const config = yield* loadBarkConfig(path.join(modelDir, "config.json"))
  const ownDir = options.ownDir ?? path.join((yield* Settings.cacheRoot).dir, "bark-pipeline")
  const { entry } = yield* convertOnce({ weightsPath: path.join(modelDir, options.weightsFile ?? "model.safetensors"), config, ownDir })
  return entry
})

/** The four sub-models of a model directory, opened from its converted graphs (prepacking and the CPU arena off unless asked for). */
export const openModelDir = Effect.fn("openModelDir")(function*(modelDir: string, options: OpenModelDirOptions = {}) {
  const entry = yield* convertModelDir(modelDir, options)
  return yield* openModels(entry.config, entry.graphs, yield* InferenceBackend, {
    ...options,
    sessionOptions: { prepack: false, cpuMemArena: false, ...options.sessionOptions }
  })
})
