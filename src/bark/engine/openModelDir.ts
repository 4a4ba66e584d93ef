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
import type { Dtype } from "../dtype.ts"
import * as Settings from "../settings.ts"

export interface OpenModelDirOptions extends OpenModelsOptions {
  /** Relative to the model directory; default model.safetensors. */
  readonly weightsFile?: string
  /** This project's cache folder; default BARK_OWN_CACHE_DIR, else `{cache root}/bark-pipeline` (BARK_CACHE_DIR, HF_HOME, XDG_CACHE_HOME). */
  readonly ownDir?: string
  /** The weight type to convert to and run in (../dtype.ts); default fp32. */
  readonly dtype?: Dtype
}

/**
 * The graph-cache entry of a model directory (and whether it was `cached`):
 * converted the first time, found there after.
 */
export const convertModelDir = Effect.fn("convertModelDir")(function*(
  modelDir: string,
  options: Pick<OpenModelDirOptions, "weightsFile" | "ownDir" | "dtype"> = {}
) {
  const path = yield* Path.Path
  const config = yield* loadBarkConfig(path.join(modelDir, "config.json"))
  const ownDir = options.ownDir ?? (yield* Settings.ownCache).dir
  const weightsPath = path.join(modelDir, options.weightsFile ?? "model.safetensors")
  const converted = yield* convertOnce({ weightsPath, config, ownDir, ...(options.dtype === undefined ? {} : { dtype: options.dtype }) })
  return { ...converted.entry, cached: converted.cache === "hit" }
})

/**
 * The four sub-models of a model directory, opened from its converted graphs:
 * the CPU arena off, prepacking off for fp32 and on for int8/q4 (as the
 * settings' defaults) unless `sessionOptions` says otherwise.
 */
export const openModelDir = Effect.fn("openModelDir")(function*(modelDir: string, options: OpenModelDirOptions = {}) {
  const entry = yield* convertModelDir(modelDir, options)
  return yield* openModels(entry.config, entry.graphs, yield* InferenceBackend, {
    ...options,
    sessionOptions: { prepack: (options.dtype ?? "fp32") !== "fp32", cpuMemArena: false, ...options.sessionOptions }
  })
})
