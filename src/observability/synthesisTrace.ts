/**
 * A synthesis's trace, read: the events a synthesis recipe emits for one
 * request (`onTrace`), turned into what people look at — a record of every
 * stage with its run and chunk, one SVG timeline, and the document the
 * service and the job worker keep.
 *
 * One request is several pipeline runs: `<recipe>/prepare` once, then
 * `<recipe>/chunk` once per long-form chunk, concurrently when the engine
 * batches. The synthesis runner (../bark/synthesis/run.ts) labels every
 * event with its run (`run`: `synthesis/prepare`, `synthesis/chunk 2`, the
 * chunk counted from 1), so the label alone says where an event belongs,
 * however the runs interleave. The timeline (../pipeline/timeline.ts) draws
 * such sibling runs as one picture.
 *
 * @since 0.5.0
 */
import { Cause, Effect, Exit } from "effect"
import type { StageResult } from "../pipeline/StageResult.ts"
import * as Timeline from "../pipeline/timeline.ts"
import type { TraceEvent } from "../pipeline/TraceEvent.ts"

/**
 * The pipeline of the run a label names: the label without its chunk number
 * (`synthesis/chunk 2` → `synthesis/chunk`); `""` without a label.
 *
 * @since 0.5.0
 */
export const pipelineOf = (label: string | undefined): string => label?.replace(/ \d+$/, "") ?? ""

/**
 * The chunk a run label names, from 0 as progress events count
 * (`synthesis/chunk 2` → 1); `null` for a label without one (`prepare`) or none.
 *
 * @since 0.5.0
 */
export const chunkOf = (label: string | undefined): number | null => {
  const m = label === undefined ? null : / (\d+)$/.exec(label)
  return m === null ? null : Number(m[1]) - 1
}

/**
 * A stage's result with the run it belongs to: the `StageResult` fields,
 * plus `pipeline` and `chunk` (from 0; `null` outside chunk runs).
 *
 * @since 0.5.0
 */
export type StageRecord = StageResult & { readonly pipeline: string; readonly chunk: number | null }

/**
 * Every finished stage of a trace (not-run ones included), in the order they finished.
 *
 * @since 0.5.0
 */
export const stages = (events: ReadonlyArray<TraceEvent>): ReadonlyArray<StageRecord> =>
  events.flatMap((event) =>
    event.type === "stage-finished" ? [{ pipeline: pipelineOf(event.run), chunk: chunkOf(event.run), ...event.result }] : []
  )

/**
 * The recipe a trace ran (`synthesis`, `draft`, `mock`): its first run's pipeline without the part.
 *
 * @since 0.5.0
 */
export const recipeOf = (events: ReadonlyArray<TraceEvent>): string | undefined => {
  const started = events.find((e) => e.type === "pipeline-started")
  return started?.type === "pipeline-started" ? started.pipeline.replace(/\/(prepare|chunk)$/, "") : undefined
}

/**
 * The trace as an SVG timeline titled `title`: one row per stage of every
 * run (`prepare · split`, `chunk 2 · semantic`), the worst run's outcome;
 * fails with `TimelineError` when no stage has started yet.
 *
 * @since 0.5.0
 */
export const toSvg = (events: ReadonlyArray<TraceEvent>, title: string): Effect.Effect<string, Timeline.TimelineError> =>
  Timeline.render(events, { title })

/**
 * How a traced synthesis ended: `running` until it does, `completed`,
 * `failed` (a stage failed, or the request failed around it), or
 * `interrupted` (the client went away, the job was cancelled, shutdown).
 *
 * @since 0.5.0
 */
export type TraceOutcome = "running" | "completed" | "failed" | "interrupted"

/**
 * A synthesis's trace as the service answers it (`GET /v1/traces/{id}`) and
 * the job worker stores it (`GET /v1/jobs/{id}/trace`).
 *
 * @since 0.5.0
 */
export interface TraceDocument {
  /** The request id (`x-request-id`), or the job id. */
  readonly id: string
  /** The route that synthesized (`/v1/audio/speech`, `/synthesize`), or `job`. */
  readonly route: string
  /** The recipe that ran (`synthesis`, `draft`, `mock`), once the trace says. */
  readonly recipe: string | null
  readonly startedAt: string
  readonly finishedAt: string | null
  readonly outcome: TraceOutcome
  /** The HTTP status the request was answered with; `null` for jobs and until it is known. */
  readonly status: number | null
  /** A job's attempt (from 1); absent for requests. */
  readonly attempt?: number
  /** Every finished stage, with its run (see {@link stages}). */
  readonly stages: ReadonlyArray<StageRecord>
  /** The trace events, as the recipe emitted them. */
  readonly events: ReadonlyArray<TraceEvent>
}

/**
 * Collects one synthesis's trace: pass `onTrace` to the engine, call
 * `finish` with the synthesis's exit, read the `document`.
 *
 * @since 0.5.0
 */
export interface Recorder {
  readonly onTrace: (event: TraceEvent) => Effect.Effect<void>
  /** Records how the synthesis ended, from its exit unless `outcome` says (the first call counts). */
  readonly finish: (exit: Exit.Exit<unknown, unknown>, outcome?: Exclude<TraceOutcome, "running">) => Effect.Effect<void>
  /** Records the HTTP status of the response. */
  readonly setStatus: (status: number) => void
  readonly document: () => TraceDocument
}

/**
 * The outcome of a synthesis that ended with `exit`.
 *
 * @since 0.5.0
 */
export const outcomeOf = (exit: Exit.Exit<unknown, unknown>): TraceOutcome =>
  Exit.isSuccess(exit) ? "completed" : Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed"

/**
 * A {@link Recorder} for the synthesis of request (or job) `id`.
 *
 * @since 0.5.0
 */
export const recorder = (options: { readonly id: string; readonly route: string; readonly attempt?: number }): Recorder => {
  const events: Array<TraceEvent> = []
  const startedAt = new Date().toISOString()
  let finishedAt: string | null = null
  let outcome: TraceOutcome = "running"
  let status: number | null = null
  return {
    onTrace: (event) => Effect.sync(() => void events.push(event)),
    finish: (exit, given) =>
      Effect.sync(() => {
        if (outcome !== "running") return
        outcome = given ?? outcomeOf(exit)
        finishedAt = new Date().toISOString()
      }),
    setStatus: (s) => {
      status = s
    },
    document: () => ({
      id: options.id,
      route: options.route,
      recipe: recipeOf(events) ?? null,
      startedAt,
      finishedAt,
      outcome,
      status,
      ...(options.attempt === undefined ? {} : { attempt: options.attempt }),
      stages: stages(events),
      events: [...events]
    })
  }
}

/**
 * Several trace handlers as one, called in order.
 *
 * @since 0.5.0
 */
export const combine = (...handlers: ReadonlyArray<(event: TraceEvent) => Effect.Effect<void>>) => (event: TraceEvent): Effect.Effect<void> =>
  Effect.forEach(handlers, (handle) => handle(event), { discard: true })
