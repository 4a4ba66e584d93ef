/**
 * bark-pipeline: typed startup and inference pipelines as Effect programs,
 * and Bark text-to-speech on onnxruntime-node.
 *
 * Effect users compose recipes from `Pipeline`, `Stage` and `Runner` and take
 * `BarkEngine` from the context of a run. Everyone else calls `load`:
 *
 * ```ts
 * import { load, encodeWav } from "bark-pipeline"
 * const bark = await load({ model: "suno/bark-small" })
 * const { audio, sampleRate } = await bark.synthesize("Hello!", { voice: "v2/en_speaker_6", seed: 7 })
 * await fs.writeFile("hello.wav", encodeWav(audio, sampleRate))
 * await bark.close()
 * ```
 *
 * @since 0.1.0
 */
import { NodeServices } from "@effect/platform-node"
import { Cause, Context, Effect, Exit, Scope, Stream } from "effect"
import startup from "../pipelines/startup.ts"
import {
  type AudioChunk,
  BarkEngine,
  type Synthesis,
  type SynthesisOptions,
  type SynthesisProgress,
  synthesizeMany
} from "./bark/engine/BarkEngine.ts"
import type { Dtype } from "./bark/dtype.ts"
import * as Environment from "./bark/stages/environment.ts"
import { decodeWav as decodeWavEffect, type Wav } from "./audio/wav.ts"
import * as Pipeline from "./pipeline/Pipeline.ts"
import * as Runner from "./pipeline/Runner.ts"
import type { PipelineReport } from "./pipeline/StageResult.ts"
import type { TraceEvent } from "./pipeline/TraceEvent.ts"
import * as SynthesisLoad from "./bark/synthesis/load.ts"
import type { AudioCacheStore } from "./bark/synthesis/services.ts"
import type * as SynthesisRecipe from "./bark/synthesis/SynthesisRecipe.ts"

export * as Pipeline from "./pipeline/Pipeline.ts"
export * as Runner from "./pipeline/Runner.ts"
export * as Stage from "./pipeline/Stage.ts"
export * as StageReporter from "./pipeline/StageReporter.ts"
export { StageFatal } from "./pipeline/StageFatal.ts"
export type { PipelineReport, StageResult } from "./pipeline/StageResult.ts"
export type { TraceEvent } from "./pipeline/TraceEvent.ts"
export type { TraceSink } from "./pipeline/TraceSink.ts"
export * as ConsoleSink from "./pipeline/sinks/console.ts"
export * as JsonlSink from "./pipeline/sinks/jsonl.ts"
export * as MemorySink from "./pipeline/sinks/memory.ts"

export { InferenceBackend } from "./onnx/InferenceBackend.ts"
export { CompiledModels, ConvertedModel, ModelFiles, PreloadedModels } from "./bark/services.ts"
export { CacheDirs } from "./bark/stages/cacheDirs.ts"
export * as Ready from "./bark/stages/ready.ts"
export type { BarkModels } from "./bark/models.ts"
export {
  type AudioChunk,
  BarkEngine,
  type Synthesis,
  SynthesisError,
  type SynthesisOptions,
  type SynthesisProgress,
  synthesizeMany,
  type ManyRequest,
  type Temperatures
} from "./bark/engine/BarkEngine.ts"
export { type EngineOptions, makeBarkEngine } from "./bark/engine/inProcess.ts"
export { makeWorkerEngine, WorkerEngineError, type WorkerSpec } from "./bark/engine/workerEngine.ts"
export { convertModelDir, openModelDir } from "./bark/engine/openModelDir.ts"
export { openModels } from "./bark/loadModels.ts"
export { SUB_MODELS, type SubModel } from "./bark/models.ts"
export { encodeWav, type Wav, WavError, type WavFormat } from "./audio/wav.ts"
export { DTYPES, type Dtype } from "./bark/dtype.ts"
export { startup }
export * as SynthesisRecipe from "./bark/synthesis/SynthesisRecipe.ts"
export * as SynthesisServices from "./bark/synthesis/services.ts"
export { draft, synthesis } from "./bark/synthesis/recipes.ts"
export { BarkSteps } from "./bark/synthesis/BarkSteps.ts"
export { connectJobs, type JobsClient, type JobsClientOptions } from "./jobs/client.ts"
export type { JobProgress, JobResult, JobState, JobStatus } from "./jobs/JobQueue.ts"
export type { JobRequest } from "./jobs/JobRequest.ts"

/** Decodes a 16-bit PCM or float32 WAV file; throws a `WavError` saying what is wrong otherwise. */
export const decodeWav = (bytes: Uint8Array): Wav => Effect.runSync(decodeWavEffect(bytes))

export interface LoadOptions {
  /** A model repo id or a local model directory (BARK_MODEL). Default suno/bark-small. */
  readonly model?: string
  /** auto | cpu | cuda (BARK_DEVICE). */
  readonly device?: "auto" | "cpu" | "cuda"
  /** The cache root (BARK_CACHE_DIR). */
  readonly cacheDir?: string
  /** The weight type: fp32 (default), int8 or q4 (BARK_DTYPE). */
  readonly dtype?: Dtype
  /** Sequences decoded together in one step (BARK_MAX_BATCH, default 1); see `synthesizeMany`. */
  readonly maxBatch?: number
  /** Further config values, as `--set` gives them (e.g. `{ BARK_ENGINE: "worker" }`). */
  readonly config?: Readonly<Record<string, string>>
  /** The startup recipe; default the project's `startup` recipe. It must provide `BarkEngine`. */
  readonly pipeline?: Pipeline.Any
  /** Every event of the startup run: stage started/finished, progress (downloads, builds), warnings. */
  readonly onProgress?: (event: TraceEvent) => void
}

export interface PromiseSynthesisOptions extends Omit<SynthesisOptions, "onProgress" | "onTrace"> {
  readonly onProgress?: (progress: SynthesisProgress) => void
  /** Every event of the request's synthesis recipe: its stages, per request and per chunk. */
  readonly onTrace?: (event: TraceEvent) => void
  /**
   * The synthesis recipe to run, as a value (`synthesisRecipes.draft`, or one of
   * your own made with `SynthesisRecipe`); `synthesis` names one instead. A
   * value runs on the in-process engine; with the worker engine, name its module.
   */
  readonly pipeline?: SynthesisRecipe.SynthesisRecipe<AudioCacheStore>
  /** Aborting stops the generation. */
  readonly signal?: AbortSignal
}

export interface Bark {
  readonly voices: ReadonlyArray<string>
  readonly sampleRate: number
  /** The startup run's report: every stage's outcome, timing, warnings. */
  readonly report: PipelineReport
  readonly synthesize: (text: string, options?: PromiseSynthesisOptions) => Promise<Synthesis>
  /**
   * Several texts at once, in order, each with the shared options and its own
   * (`{ text, options }`). With `maxBatch` above 1 they are decoded together;
   * each result is what `synthesize` gives for it alone.
   */
  readonly synthesizeMany: (
    texts: ReadonlyArray<string | { readonly text: string; readonly options?: Omit<PromiseSynthesisOptions, "signal"> }>,
    options?: PromiseSynthesisOptions
  ) => Promise<ReadonlyArray<Synthesis>>
  /** Chunks as each is ready; leaving the loop early stops the generation. */
  readonly stream: (text: string, options?: Omit<PromiseSynthesisOptions, "signal">) => AsyncIterable<AudioChunk>
  /** Releases the models (sessions, worker). */
  readonly close: () => Promise<void>
}

const run = async <A, E>(effect: Effect.Effect<A, E>, signal?: AbortSignal): Promise<A> => {
  const exit = await Effect.runPromiseExit(effect, signal === undefined ? undefined : { signal })
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

const engineOptions = (options: Omit<PromiseSynthesisOptions, "signal">): SynthesisOptions => {
  const { onProgress, onTrace, pipeline, ...rest } = options
  return {
    ...rest,
    ...(onProgress === undefined ? {} : { onProgress: (p: SynthesisProgress) => Effect.sync(() => onProgress(p)) }),
    ...(onTrace === undefined ? {} : { onTrace: (e: TraceEvent) => Effect.sync(() => onTrace(e)) }),
    ...(pipeline === undefined ? {} : { synthesis: SynthesisLoad.register(pipeline) })
  }
}

/**
 * Runs the startup recipe and returns the loaded model. Rejects with the
 * pipeline's failure (`PipelineFailed`: message, remediation, report).
 */
export const load = async (options: LoadOptions = {}): Promise<Bark> => {
  const config: Record<string, string> = { ...options.config }
  if (options.model !== undefined) config["BARK_MODEL"] = options.model
  if (options.device !== undefined) config["BARK_DEVICE"] = options.device
  if (options.cacheDir !== undefined) config["BARK_CACHE_DIR"] = options.cacheDir
  if (options.dtype !== undefined) config["BARK_DTYPE"] = options.dtype
  if (options.maxBatch !== undefined) config["BARK_MAX_BATCH"] = String(options.maxBatch)
  const onProgress = options.onProgress
  const sinks = onProgress === undefined ? [] : [{ emit: (event: TraceEvent) => Effect.sync(() => onProgress(event)) }]
  const scope = await run(Scope.make())
  const closeScope = () => run(Scope.close(scope, Exit.void))

  const started = Runner.run(options.pipeline ?? startup, { sinks, config, probes: [Environment.probe] }).pipe(
    Effect.provide(NodeServices.layer),
    Scope.provide(scope)
  ) as Effect.Effect<Runner.Ready<unknown>, Runner.PipelineFailed>
  const ready = await run(started).catch(async (error: unknown) => {
    await closeScope()
    throw error
  })
  const engine = Context.getOption(ready.context as Context.Context<BarkEngine>, BarkEngine)
  if (engine._tag === "None") {
    await closeScope()
    throw new Error(
      `the recipe "${ready.report.pipeline}" provides no BarkEngine: add the ready stage (Ready.stage) at its end`
    )
  }
  const bark = engine.value
  return {
    voices: bark.voices,
    sampleRate: bark.sampleRate,
    report: ready.report,
    synthesize: (text, synthesisOptions = {}) => run(bark.synthesize(text, engineOptions(synthesisOptions)), synthesisOptions.signal),
    synthesizeMany: (texts, manyOptions = {}) =>
      run(
        synthesizeMany(
          bark,
          texts.map((t) => typeof t === "string" ? t : { text: t.text, options: engineOptions(t.options ?? {}) }),
          engineOptions(manyOptions)
        ),
        manyOptions.signal
      ),
    stream: (text, synthesisOptions = {}) => Stream.toAsyncIterable(bark.stream(text, engineOptions(synthesisOptions))),
    close: closeScope
  }
}
