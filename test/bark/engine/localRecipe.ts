/**
 * A startup recipe for tests that stands in for the stages other modules
 * own (fetch-weights, device, preload, compile): the model directory named by
 * BARK_MODEL, the CPU backend on one thread, the models opened straight from
 * the directory — then the real `ready` stage, capped for random weights.
 * Its default export lets the CLI run it as a recipe module.
 */
import { Effect } from "effect"
import { openModelDir } from "../../../src/bark/engine/openModelDir.ts"
import { CompiledModels, ModelFiles } from "../../../src/bark/services.ts"
import * as Settings from "../../../src/bark/settings.ts"
import * as Ready from "../../../src/bark/stages/ready.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import * as Pipeline from "../../../src/pipeline/Pipeline.ts"
import * as Stage from "../../../src/pipeline/Stage.ts"
import { testEngineOptions } from "./tinyModel.ts"

const modelFiles = Stage.make({
  name: "local-model",
  purpose: "use the model directory named by BARK_MODEL",
  provides: ModelFiles,
  build: Effect.map(Settings.model, (dir) =>
    ModelFiles.of({
      source: "local",
      model: dir,
      revision: undefined,
      commit: undefined,
      dir,
      files: [],
      weightsFile: "model.safetensors",
      weightsSha256: undefined
    }))
})

const cpu = Stage.make({
  name: "cpu",
  purpose: "the CPU backend on one thread",
  provides: InferenceBackend,
  build: Effect.provide(
    Effect.gen(function*() {
      return yield* InferenceBackend
    }),
    InferenceBackend.cpu({ intraOpNumThreads: 1 })
  )
})

const models = Stage.make({
  name: "models",
  purpose: "open the four sub-models from the directory",
  provides: CompiledModels,
  needs: [ModelFiles, InferenceBackend],
  build: Effect.gen(function*() {
    const files = yield* ModelFiles
    return { models: yield* openModelDir(files.dir, files.weightsFile), optimized: false, warmedUp: false }
  })
})

export const localRecipe = Pipeline.make("local", "a local model directory, CPU, then ready").pipe(
  Pipeline.add(modelFiles),
  Pipeline.add(cpu),
  Pipeline.add(models),
  Pipeline.add(Ready.make(testEngineOptions))
)

export default localRecipe
