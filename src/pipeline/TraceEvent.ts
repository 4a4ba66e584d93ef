/**
 * Events a run emits while it happens, in the order they happen. Trace sinks
 * receive them; the JSON Lines sink writes one per line. A trace may hold
 * several runs — a synthesis's `prepare` run and one run per chunk, some of
 * them concurrent, inside the run of the stage that asked for it — so an
 * event may say which run it belongs to (`run`); without it, it belongs to
 * the innermost run started and not yet finished.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { PipelineReport, StageResult } from "./StageResult.ts"

export const PipelineStarted = Schema.Struct({
  type: Schema.Literal("pipeline-started"),
  at: Schema.String,
  /** The run that emitted it, when a trace holds several (e.g. "synthesis/chunk 2"). */
  run: Schema.optionalKey(Schema.String),
  pipeline: Schema.String,
  stages: Schema.Array(Schema.String)
})

export const StageStarted = Schema.Struct({
  type: Schema.Literal("stage-started"),
  at: Schema.String,
  /** The run that emitted it, when a trace holds several (e.g. "synthesis/chunk 2"). */
  run: Schema.optionalKey(Schema.String),
  stage: Schema.String,
  purpose: Schema.String
})

export const Progress = Schema.Struct({
  type: Schema.Literal("progress"),
  at: Schema.String,
  /** The run that emitted it, when a trace holds several (e.g. "synthesis/chunk 2"). */
  run: Schema.optionalKey(Schema.String),
  stage: Schema.String,
  /** What is being counted, e.g. "bytes", "tokens". */
  unit: Schema.String,
  done: Schema.Number,
  total: Schema.optionalKey(Schema.Number),
  /** e.g. the file being downloaded or the sub-model being generated. */
  label: Schema.optionalKey(Schema.String),
  ratePerSecond: Schema.optionalKey(Schema.Number),
  etaSeconds: Schema.optionalKey(Schema.Number)
})

export const WarningRaised = Schema.Struct({
  type: Schema.Literal("warning"),
  at: Schema.String,
  /** The run that emitted it, when a trace holds several (e.g. "synthesis/chunk 2"). */
  run: Schema.optionalKey(Schema.String),
  stage: Schema.String,
  message: Schema.String,
  remediation: Schema.optionalKey(Schema.String)
})

export const StageFinished = Schema.Struct({
  type: Schema.Literal("stage-finished"),
  at: Schema.String,
  /** The run that emitted it, when a trace holds several (e.g. "synthesis/chunk 2"). */
  run: Schema.optionalKey(Schema.String),
  result: StageResult
})

export const PipelineFinished = Schema.Struct({
  type: Schema.Literal("pipeline-finished"),
  at: Schema.String,
  /** The run that emitted it, when a trace holds several (e.g. "synthesis/chunk 2"). */
  run: Schema.optionalKey(Schema.String),
  report: PipelineReport
})

export const TraceEvent = Schema.Union([
  PipelineStarted,
  StageStarted,
  Progress,
  WarningRaised,
  StageFinished,
  PipelineFinished
])
export type TraceEvent = typeof TraceEvent.Type
export type ProgressEvent = typeof Progress.Type

/** One JSON Lines record, schema-checked in both directions. */
export const TraceLine = Schema.fromJsonString(TraceEvent)
