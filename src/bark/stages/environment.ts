/**
 * Stage `environment`: probes the runtime (Node, platform, CPU, memory,
 * onnxruntime and its execution providers) and warns when the machine has
 * less memory than the configured model needs.
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
import * as Environment from "../../pipeline/Environment.ts"
import * as MemoryBudget from "../../pipeline/memoryBudget.ts"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import type { EnvironmentSummary } from "../../pipeline/StageResult.ts"
import { runtimeInfo } from "../../onnx/runtimeInfo.ts"
import * as Settings from "../settings.ts"

export class RuntimeEnvironment extends Context.Service<RuntimeEnvironment, {
  readonly summary: EnvironmentSummary
  /** The model the recipe is configured for (BARK_MODEL). */
  readonly model: string
}>()("bark-pipeline/RuntimeEnvironment") {}

/** The environment summary including onnxruntime, as the runner's report wants it. */
export const probe = Effect.gen(function*() {
  const base = yield* Environment.probe
  const onnxruntime = yield* runtimeInfo
  return { ...base, onnxruntime: { version: onnxruntime.version, executionProviders: [...onnxruntime.executionProviders] } }
})

/** The stage, with the probe replaceable (tests, or recipes that know more about the machine). */
export const make = (options: { readonly probe?: Effect.Effect<EnvironmentSummary> } = {}) =>
  Stage.make({
  name: "environment",
  purpose: "probe the runtime and check there is memory for the model",
  provides: RuntimeEnvironment,
  build: Effect.gen(function*() {
    const summary = yield* (options.probe ?? probe)
    const model = yield* Settings.model
    const need = Settings.modelMemory(model)
    // The container's limit where there is one, else the host's memory.
    const budget = MemoryBudget.resolve({ hostTotalBytes: summary.totalMemoryMb * 2 ** 20 })
    yield* StageReporter.annotate({
      ...summary,
      model,
      modelWeightsGb: need.weightsGb,
      modelPeakGb: need.peakGb,
      memoryBudgetMb: budget.limitMb,
      memoryBudgetSource: budget.source
    })
    if (budget.limitMb / 1024 < need.peakGb) {
      yield* StageReporter.warn(
        `${model} needs about ${need.peakGb} GB of memory at its peak (fp32 weights ${need.weightsGb} GB, ${
          need.measured ? "measured" : "scaled from bark-small's measurement"
        }), and this process may use ${(budget.limitMb / 1024).toFixed(1)} GB (${budget.source === "host" ? "the host's memory" : `its ${budget.source} limit`})`,
        "use suno/bark-small (SUNO_USE_SMALL_MODELS=True), turn on SUNO_OFFLOAD_CPU=True to hold one sub-model's session at a time, or give the process more memory"
      )
    }
    return RuntimeEnvironment.of({ summary, model })
  })
})

export const stage = make()
