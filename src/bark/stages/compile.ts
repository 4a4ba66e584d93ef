/**
 * Stage `compile`: the sessions preload opened are already optimised
 * (onnxruntime optimises a graph as its session opens, in milliseconds for
 * these graphs); this stage warms every sub-model up with one short run, so
 * that the first request does not pay for onnxruntime's lazy initialisation.
 * Readiness waits for the warm-up, and a warm-up that fails is fatal.
 *
 * Disabled (BARK_ENABLE_COMPILE=false, or the deprecated
 * BARK_ENABLE_TORCH_COMPILE) the stage is skipped, preload opens the sessions
 * with "basic" optimisations only, and its models pass through unwarmed.
 * Offloaded sessions (SUNO_OFFLOAD_CPU) are released after each use, so
 * there is nothing to warm; with the worker engine the worker warms its own.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import { StageFatal } from "../../pipeline/StageFatal.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { CompiledModels, PreloadedModels } from "../services.ts"
import * as Settings from "../settings.ts"
import { warmUp } from "../warmUp.ts"

const deprecation = (source: string) =>
  source === "BARK_ENABLE_TORCH_COMPILE"
    ? StageReporter.warn(
      "BARK_ENABLE_TORCH_COMPILE is deprecated: it is read only while BARK_ENABLE_COMPILE is unset",
      "rename it to BARK_ENABLE_COMPILE (same values)"
    )
    : Effect.void

export const stage = Stage.make({
  name: "compile",
  purpose: "warm every sub-model up on its optimised session",
  provides: CompiledModels,
  needs: [PreloadedModels],
  skip: {
    when: Effect.map(Settings.enableCompile, ({ enabled, source }) =>
      enabled ? undefined : `${source}=false: the sessions use basic optimisations and are not warmed up`),
    value: Effect.gen(function*() {
      yield* deprecation((yield* Settings.enableCompile).source)
      const { models, sessionOptions } = yield* PreloadedModels
      return CompiledModels.of({ models, optimization: sessionOptions.graphOptimizationLevel ?? "all", warmedUp: false })
    })
  },
  build: Effect.gen(function*() {
    yield* deprecation((yield* Settings.enableCompile).source)
    const { models, offload, sessionOptions } = yield* PreloadedModels
    const optimization = sessionOptions.graphOptimizationLevel ?? "all"
    yield* StageReporter.annotate({ optimizationLevel: optimization })
    if (models === undefined || offload) {
      yield* StageReporter.annotate({
        warmUp: models === undefined
          ? "in the worker engine, which opens its own sessions"
          : "not needed: SUNO_OFFLOAD_CPU opens sessions per use"
      })
      return CompiledModels.of({ models, optimization, warmedUp: false })
    }
    const warm = yield* Effect.result(warmUp(models))
    if (warm._tag === "Failure") {
      return yield* new StageFatal({
        message: `the models failed their warm-up run: ${warm.failure.message}`,
        remediation: warm.failure.remediation,
        errorTag: warm.failure._tag
      })
    }
    yield* StageReporter.annotate({ warmUpMs: warm.success })
    return CompiledModels.of({ models, optimization, warmedUp: true })
  })
})
