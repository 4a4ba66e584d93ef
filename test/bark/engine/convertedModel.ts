/**
 * A model directory's checkpoint converted into a graph cache, for engine
 * tests that open sessions themselves (the worker engine's spec names the
 * converted graphs by path). The cache lives inside the (temporary) model
 * directory, never in the user's cache.
 */
import { Effect, Path } from "effect"
import { loadBarkConfig } from "../../../src/bark/config.ts"
import { convertOnce } from "../../../src/bark/convert.ts"

/** Where the engine tests keep the graph cache of a model directory. */
export const testOwnDir = (modelDir: string) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    return path.join(modelDir, ".bark-pipeline")
  })

/** The graph-cache entry of `modelDir`'s model.safetensors, converted on first use. */
export const convertedModel = (modelDir: string) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const config = yield* loadBarkConfig(path.join(modelDir, "config.json"))
    const converted = yield* convertOnce({
      weightsPath: path.join(modelDir, "model.safetensors"),
      config,
      ownDir: yield* testOwnDir(modelDir)
    })
    return converted.entry
  })
