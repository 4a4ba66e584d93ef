/**
 * What a run records: one `StageResult` per stage, and the `PipelineReport`
 * with the environment it ran in. Both are Effect Schemas so that reports and
 * traces round-trip through JSON.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export const Outcome = Schema.Literals(["succeeded", "warned", "skipped", "failed", "not-run"])
export type Outcome = typeof Outcome.Type

export const Warning = Schema.Struct({
  message: Schema.String,
  remediation: Schema.optionalKey(Schema.String)
})
export type Warning = typeof Warning.Type

export const StageError = Schema.Struct({
  /** The error's tag, e.g. "StageFatal", "HubError", "ConfigError", "Timeout", "Defect". */
  tag: Schema.String,
  message: Schema.String,
  remediation: Schema.String
})
export type StageError = typeof StageError.Type

export const StageResult = Schema.Struct({
  stage: Schema.String,
  outcome: Outcome,
  /** ISO-8601 start time (absent for stages that did not run). */
  startedAt: Schema.optionalKey(Schema.String),
  durationMs: Schema.Number,
  /** RSS in MB when the stage started and ended; absent for stages that did not run, and in lean runs. */
  rssBeforeMb: Schema.optionalKey(Schema.Number),
  rssAfterMb: Schema.optionalKey(Schema.Number),
  /**
   * The highest RSS during the stage, in MB, where the OS can tell (Linux:
   * VmHWM after resetting it at the stage's start); absent otherwise, in lean
   * runs, and in traces written before it was recorded.
   */
  peakRssMb: Schema.optionalKey(Schema.Number),
  /** How many times the build ran (more than 1 when a retry schedule kicked in). */
  attempts: Schema.Number,
  metadata: Schema.JsonObject,
  warnings: Schema.Array(Warning),
  skipReason: Schema.optionalKey(Schema.String),
  error: Schema.optionalKey(StageError)
})
export type StageResult = typeof StageResult.Type

export const EnvironmentSummary = Schema.Struct({
  node: Schema.String,
  platform: Schema.String,
  arch: Schema.String,
  cpuModel: Schema.String,
  cpuCount: Schema.Number,
  totalMemoryMb: Schema.Number,
  freeMemoryMb: Schema.Number,
  onnxruntime: Schema.optionalKey(Schema.Struct({
    version: Schema.String,
    executionProviders: Schema.Array(Schema.String)
  })),
  gpu: Schema.optionalKey(Schema.String)
})
export type EnvironmentSummary = typeof EnvironmentSummary.Type

export const PipelineReport = Schema.Struct({
  pipeline: Schema.String,
  outcome: Schema.Literals(["succeeded", "warned", "failed"]),
  startedAt: Schema.String,
  durationMs: Schema.Number,
  /** Where the pipeline ran; absent from lean runs (per-request pipelines), which probe nothing. */
  environment: Schema.optionalKey(EnvironmentSummary),
  results: Schema.Array(StageResult)
})
export type PipelineReport = typeof PipelineReport.Type

/** The overall outcome: failed if any stage failed, warned if any warned, else succeeded. */
export const overallOutcome = (results: ReadonlyArray<StageResult>): PipelineReport["outcome"] =>
  results.some((r) => r.outcome === "failed")
    ? "failed"
    : results.some((r) => r.outcome === "warned")
    ? "warned"
    : "succeeded"
