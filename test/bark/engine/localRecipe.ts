/**
 * A startup recipe for tests that stands in for the stages other modules
 * own (cache-dirs, fetch-weights, safe-load, device): the model directory
 * named by BARK_MODEL, the CPU backend on one thread, the directory's
 * checkpoint converted into a graph cache (BARK_CACHE_DIR when set, else a
 * `.bark-pipeline` folder inside the model directory, so that tests never
 * write to the user's cache) — then the real `preload`, `compile` and
 * `ready` stages, generation capped for random weights.
 * Its default export lets the CLI run it as a recipe module.
 */
import { Config, Effect, Option, Path } from "effect"
import { loadBarkConfig } from "../../../src/bark/config.ts"
import { convertedModel, convertOnce } from "../../../src/bark/convert.ts"
import { ConvertedModel, ModelFiles } from "../../../src/bark/services.ts"
import * as Settings from "../../../src/bark/settings.ts"
import * as Compile from "../../../src/bark/stages/compile.ts"
import * as Preload from "../../../src/bark/stages/preload.ts"
import * as Ready from "../../../src/bark/stages/ready.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import * as Pipeline from "../../../src/pipeline/Pipeline.ts"
import * as Stage from "../../../src/pipeline/Stage.ts"
import * as StageReporter from "../../../src/pipeline/StageReporter.ts"
import { localFiles } from "../stages/modelStages.ts"
import { testEngineOptions } from "./tinyModel.ts"

const modelFiles = Stage.make({
  name: "local-model",
  purpose: "use the model directory named by BARK_MODEL",
  provides: ModelFiles,
  build: Effect.map(Settings.model, (dir) => localFiles(dir))
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

/** The project's cache folder for this recipe: `{BARK_CACHE_DIR}/bark-pipeline`, else inside the model directory. */
const ownDir = (modelDir: string) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const explicit = yield* Config.option(Config.String("BARK_CACHE_DIR"))
    return Option.isSome(explicit) && explicit.value !== ""
      ? path.join(path.resolve(explicit.value), "bark-pipeline")
      : path.join(modelDir, ".bark-pipeline")
  })

const models = Stage.make({
  name: "models",
  purpose: "convert the directory's checkpoint into the graph cache, once",
  provides: ConvertedModel,
  needs: [ModelFiles],
  build: Effect.gen(function*() {
    const files = yield* ModelFiles
    const path = yield* Path.Path
    const config = yield* loadBarkConfig(path.join(files.dir, "config.json"))
    const converted = yield* convertOnce({
      weightsPath: path.join(files.dir, files.weightsFile),
      config,
      ownDir: yield* ownDir(files.dir)
    })
    yield* StageReporter.annotate({ graphCache: converted.cache })
    return convertedModel(config, converted)
  })
})

export const localRecipe = Pipeline.make("local", "a local model directory, CPU, converted graphs, preload, compile, ready").pipe(
  Pipeline.add(modelFiles),
  Pipeline.add(cpu),
  Pipeline.add(models),
  Pipeline.add(Preload.stage),
  Pipeline.add(Compile.stage),
  Pipeline.add(Ready.make(testEngineOptions))
)

export default localRecipe
