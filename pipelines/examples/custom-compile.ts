/**
 * Example: a compile stage of your own, to put in the startup recipe with
 * `startup.pipe(Pipeline.replace(CompiledModels, warmUpOnly))` — here a
 * lenient warm-up: one tiny forward pass per sub-model, so the first request
 * does not pay for lazy initialisation, where a failed warm-up is a warning
 * and the models are served anyway (the default compile stage stops the
 * start instead).
 *
 * Shows: a stage that needs an earlier stage's service (PreloadedModels),
 * reports progress, annotates per-model timings, warns instead of failing,
 * and how `Pipeline.replace` swaps it in — the replacement is checked to
 * provide a service the recipe already provides, and the stages after it
 * (ready) are unchanged.
 */
import { Effect } from "effect"
import type { BarkModels } from "../../src/bark/models.ts"
import type { InferenceError } from "../../src/onnx/InferenceError.ts"
import { CompiledModels, PreloadedModels } from "../../src/bark/services.ts"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Stage from "../../src/pipeline/Stage.ts"
import * as StageReporter from "../../src/pipeline/StageReporter.ts"
import startup from "../startup.ts"

/** One forward pass of each sub-model on the smallest valid input, in generation order. */
const warmUps = (models: BarkModels): ReadonlyArray<{ readonly model: string; readonly run: Effect.Effect<unknown, InferenceError> }> => [
  { model: "semantic", run: models.semantic.prefill(Int32Array.of(0)) },
  { model: "coarse", run: models.coarse.prefill(Int32Array.of(0)) },
  { model: "fine", run: models.fine.run(new Int32Array(models.fine.windowSize * models.fine.nCodes), models.fine.nCodes - 1) },
  { model: "codec", run: models.codec.decode(new Int32Array(models.fine.nCodes), 1) }

]

export const warmUpOnly = Stage.make({
  name: "compile",
  purpose: "warm up each sub-model once; a failed warm-up only warns",
  provides: CompiledModels,
  needs: [PreloadedModels],
  build: Effect.gen(function*() {
    const { models, offload, sessionOptions } = yield* PreloadedModels
    const optimization = sessionOptions.graphOptimizationLevel ?? "all"
    if (models === undefined || offload) {
      // Offloaded sessions are released after each use, and the worker engine opens its own: nothing to warm here.
      yield* StageReporter.annotate({ warmUp: "not here: no resident sessions on this thread" })
      return CompiledModels.of({ models, optimization, warmedUp: false })
    }
    const steps = warmUps(models)
    const timings: Record<string, number> = {}
    let warmedUp = true
    for (const [i, step] of steps.entries()) {
      const t0 = performance.now()
      const ok = yield* step.run.pipe(
        Effect.as(true),
        Effect.catch((e) =>
          StageReporter.warn(
            `warm-up of the ${step.model} model failed: ${e.message}`,
            "the model is served unwarmed (its first request is slower); check the message above if requests fail too"
          ).pipe(Effect.as(false))
        )
      )
      warmedUp &&= ok
      timings[step.model] = Math.round(performance.now() - t0)
      yield* StageReporter.progress({ unit: "models", done: i + 1, total: steps.length, label: step.model })
    }
    yield* StageReporter.annotate({ warmUpMs: timings })
    return CompiledModels.of({ models, optimization, warmedUp })
  })
})

export default startup.pipe(
  Pipeline.replace(CompiledModels, warmUpOnly),
  Pipeline.rename("custom-compile", "Bark startup with a lenient warm-up")
)
