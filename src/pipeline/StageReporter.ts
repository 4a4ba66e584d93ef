/**
 * The channel through which a running stage reports what the runner cannot
 * see: warnings (the stage still provides a value), progress of long work,
 * and metadata for its StageResult. The runner provides it to every build.
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
import type { Json } from "effect/Schema"
import type { TraceEvent } from "./TraceEvent.ts"

export interface ProgressUpdate {
  readonly unit: string
  readonly done: number
  readonly total?: number
  readonly label?: string
  readonly ratePerSecond?: number
  readonly etaSeconds?: number
}

export class StageReporter extends Context.Service<StageReporter, {
  readonly stage: string
  readonly warn: (message: string, remediation?: string) => Effect.Effect<void>
  readonly progress: (update: ProgressUpdate) => Effect.Effect<void>
  readonly annotate: (metadata: Readonly<Record<string, Json>>) => Effect.Effect<void>
  /** The build found its work already done (e.g. a cache hit): the outcome is `skipped` with this reason, and its value is provided. */
  readonly skipped: (reason: string) => Effect.Effect<void>
  /**
   * Forwards an event of a run the stage started itself (a synthesis's
   * stages) to this run's sinks, so that one trace holds both; label such
   * events with their `run`.
   */
  readonly emit: (event: TraceEvent) => Effect.Effect<void>
}>()("bark-pipeline/StageReporter") {}

/** Records a recoverable problem: the stage's outcome becomes `warned`. */
export const warn = (message: string, remediation?: string) => StageReporter.use((r) => r.warn(message, remediation))

/** Reports progress of long work (throttled by the runner). */
export const progress = (update: ProgressUpdate) => StageReporter.use((r) => r.progress(update))

/** Adds fields to the stage's metadata (later keys overwrite earlier ones). */
export const annotate = (metadata: Readonly<Record<string, Json>>) => StageReporter.use((r) => r.annotate(metadata))

/**
 * Reports that the work was found already done (a cache hit): the stage's
 * outcome becomes `skipped` with `reason`, unless it warned or failed.
 */
export const skipped = (reason: string) => StageReporter.use((r) => r.skipped(reason))

/**
 * A reporter for running stage code outside a pipeline (library calls, tests):
 * warnings go to the log, progress and metadata are dropped.
 */
export const detached = (stage: string) =>
  StageReporter.of({
    stage,
    warn: (message, remediation) =>
      Effect.logWarning(remediation === undefined ? message : `${message} (${remediation})`),
    progress: () => Effect.void,
    annotate: () => Effect.void,
    skipped: () => Effect.void,
    emit: () => Effect.void
  })
