/**
 * Stage `demo-model` of the offline demo recipe, in place of fetch-weights:
 * makes (once, deterministically) a checkpoint with Bark's real architecture
 * and vocabularies but random weights and small widths (`presets.demo`) in
 * the cache, and hands it to safe-load as a local model directory — no
 * download, no network.
 *
 * It warns on every run: random weights prove the machinery end to end, but
 * the audio they produce is noise.
 *
 * @since 0.1.0
 */
import { Effect, Path } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { presets } from "../randomCheckpoint.ts"
import { ModelFiles } from "../../bark/services.ts"
import { CacheDirs } from "../../bark/stages/cacheDirs.ts"
import { ensureRandomModelDir } from "./demoModelDir.ts"
import { localModelFiles } from "../../bark/stages/fetchWeights.ts"

/** Where the demo model lives, under the cache's own folder (CacheDirs.own). */
export const DEMO_MODEL_DIR = "demo-model"
export const demoPreset = presets.demo

export const stage = Stage.make({
  name: "demo-model",
  purpose: "make (once) the random-weight demo checkpoint in the cache and use it as a local model, without download",
  provides: ModelFiles,
  needs: [CacheDirs],
  build: Effect.gen(function*() {
    const path = yield* Path.Path
    const dirs = yield* CacheDirs
    const start = performance.now()
    const made = yield* ensureRandomModelDir(path.join(dirs.own, DEMO_MODEL_DIR), demoPreset)
    yield* StageReporter.annotate({
      created: made.created,
      ...(made.reason === undefined ? {} : { reason: made.reason }),
      seconds: Number(((performance.now() - start) / 1000).toFixed(3)),
      hidden: demoPreset.semantic.hidden,
      layers: demoPreset.semantic.layers,
      seed: demoPreset.seed
    })
    yield* StageReporter.warn(
      "the demo model has random weights: it proves the whole startup and synthesis path, but its audio is noise",
      "for speech, run the startup recipe on the real model: BARK_MODEL=suno/bark-small bark-pipeline run startup"
    )
    // The same hand-over as fetch-weights for a local BARK_MODEL directory (it annotates dir and files).
    return yield* localModelFiles(made.dir)
  })
})
