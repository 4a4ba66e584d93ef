/**
 * Stage `preload`: the sessions of the four sub-models, opened once on the
 * chosen device from the converted model's files by path, with their final
 * options, and released when the pipeline run ends.
 *
 * onnxruntime memory-maps the graphs' external weight files; with prepacking
 * off (the default, BARK_ORT_PREPACK) the sessions compute from those pages
 * directly, so the weights exist once, in the page cache, shared with every
 * other session and process that opens the same entry. onnxruntime's CPU
 * arena is off too (BARK_ORT_CPU_ARENA), which lowers the peak. The graphs are
 * optimised as each session opens (level "all", or "basic" when
 * BARK_ENABLE_COMPILE=false), which costs milliseconds.
 *
 * With SUNO_OFFLOAD_CPU=True sessions are opened when a sub-model runs and
 * released when another one needs to. With BARK_ENGINE=worker the main
 * thread opens none: the worker engine opens the same files itself. fp16
 * weights on the CPU warn: onnxruntime upcasts them (use int8/q4 there).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { SessionOptions } from "../../onnx/InferenceBackend.ts"
import { InferenceBackend } from "../../onnx/InferenceBackend.ts"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import type { Dtype } from "../dtype.ts"
import { openModels, sessionsOf } from "../loadModels.ts"
import { SUB_MODELS } from "../models.ts"
import { ConvertedModel, PreloadedModels } from "../services.ts"
import * as Settings from "../settings.ts"

/** How every session of a model of `dtype` is opened: shared by preload and the worker engine. */
export const sessionOptions = (dtype: Dtype) =>
  Effect.gen(function*() {
    const compile = yield* Settings.enableCompile
    const options: Omit<SessionOptions, "model"> = {
      graphOptimizationLevel: compile.enabled ? "all" : "basic",
      ...(yield* Settings.memoryOptions(dtype))
    }
    return options
  })

export const stage = Stage.make({
  name: "preload",
  purpose: "open the sub-models' sessions on the device from the converted model's files",
  provides: PreloadedModels,
  needs: [ConvertedModel, InferenceBackend],
  build: Effect.gen(function*() {
    const converted = yield* ConvertedModel
    const backend = yield* InferenceBackend
    const reporter = yield* StageReporter.StageReporter
    const offload = yield* Settings.offloadCpu
    const options = yield* sessionOptions(converted.dtype)
    const common = { provider: backend.name, dtype: converted.dtype, offload, ...options }
    if (converted.dtype === "fp16" && backend.name === "cpu") {
      yield* StageReporter.warn(
        "fp16 weights on the CPU: onnxruntime computes them in float32 from upcast copies, with about the fp32 model's memory and no gain in speed",
        "use BARK_DTYPE=int8 or q4 on CPUs; fp16 is meant for CUDA"
      )
    }
    if ((yield* Settings.engineKind) === "worker") {
      yield* StageReporter.annotate({ ...common, sessionsOpen: [], opensSessions: "the worker engine (ready)" })
      return PreloadedModels.of({ models: undefined, offload, sessionOptions: options })
    }
    const models = yield* openModels(converted.config, converted.graphs, backend, {
      mode: offload ? "offload" : "resident",
      sessionOptions: options,
      onLoaded: (model, done) => reporter.progress({ unit: "sub-models", done, total: SUB_MODELS.length, label: model })
    })
    const stats = yield* sessionsOf(models)!.stats
    yield* StageReporter.annotate({ ...common, sessionsOpen: [...stats.open] })
    return PreloadedModels.of({ models, offload, sessionOptions: options })
  })
})
