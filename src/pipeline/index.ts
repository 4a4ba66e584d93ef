/**
 * `bark-pipeline/pipeline`: the stage DSL alone — stages, pipelines, the
 * runner, trace events and sinks. It knows nothing of Bark and loads no
 * onnxruntime, so any service's startup can be declared with it.
 *
 * ```ts
 * import { Pipeline, Runner, Stage } from "bark-pipeline/pipeline"
 * ```
 *
 * @since 0.3.0
 */
export * as Environment from "./Environment.ts"
export * as Pipeline from "./Pipeline.ts"
export * as Runner from "./Runner.ts"
export * as Stage from "./Stage.ts"
export * as StageReporter from "./StageReporter.ts"
export { StageFatal } from "./StageFatal.ts"
export type { Outcome, PipelineReport, StageResult } from "./StageResult.ts"
export type { TraceEvent } from "./TraceEvent.ts"
export type { TraceSink } from "./TraceSink.ts"
export * as ConsoleSink from "./sinks/console.ts"
export * as JsonlSink from "./sinks/jsonl.ts"
export * as MemorySink from "./sinks/memory.ts"
export * as Timeline from "./timeline.ts"
