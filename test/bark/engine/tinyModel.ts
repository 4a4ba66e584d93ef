/**
 * A tiny random Bark model directory for engine tests (vocab, two voices,
 * weights at the `tiny` preset), a cap on generation so that random
 * weights, which never emit EOS, stop after a few dozen semantic tokens, and
 * a layer with the model opened and an in-process engine on it.
 */
import { NodeServices } from "@effect/platform-node"
import { Context, Effect, FileSystem, Layer } from "effect"
import type { BarkEngine } from "../../../src/bark/engine/BarkEngine.ts"
import { type EngineOptions, makeBarkEngine } from "../../../src/bark/engine/inProcess.ts"
import { openModelDir } from "../../../src/bark/engine/openModelDir.ts"
import type { BarkModels } from "../../../src/bark/models.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import { testOwnDir } from "./convertedModel.ts"
import { makeRandomCheckpoint, presets } from "../../../src/dev/randomCheckpoint.ts"
import { writeBarkModelDir } from "../../../src/dev/modelDir.ts"

/** About 25 semantic tokens per chunk; short chunks (at most 10 words). */
export const testEngineOptions: EngineOptions = {
  generation: { semantic: { maxGenDurationS: 0.5 } },
  split: { maxWords: 10 }
}

/** Writes the tiny model into a new temporary directory (removed with the scope) and returns its path. */
export const tinyModelDir = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "bark-engine-" })
  yield* writeBarkModelDir(dir, yield* makeRandomCheckpoint(presets.tiny), { voices: 2 })
  return dir
})

/** The tiny model, opened, and an in-process engine on it with the test options. */
export class TinyEngine extends Context.Service<TinyEngine, {
  readonly dir: string
  readonly models: BarkModels
  readonly engine: typeof BarkEngine.Service
}>()("test/TinyEngine") {}

/** `TinyEngine` on one intra-op thread, with Node's services for the tests. */
export const tinyEngine = Layer.effect(
  TinyEngine,
  Effect.gen(function*() {
    const dir = yield* tinyModelDir
    const models = yield* openModelDir(dir, { ownDir: yield* testOwnDir(dir) })
    return { dir, models, engine: yield* makeBarkEngine(models, dir, testEngineOptions) }
  })
).pipe(Layer.provideMerge(Layer.merge(NodeServices.layer, InferenceBackend.cpu({ intraOpNumThreads: 1 }))))
