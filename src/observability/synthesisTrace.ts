/**
 * A synthesis's trace, read: the events a synthesis recipe emits for one
 * request (`onTrace`), told apart by the pipeline run they belong to, and
 * turned into what people look at — a record of every stage with its run
 * and chunk, one SVG timeline, and the document the service and the job
 * worker keep.
 *
 * One request is several pipeline runs: `<recipe>/prepare` once, then
 * `<recipe>/chunk` once per long-form chunk, concurrently when the engine
 * batches. The recipe runner labels each event with its run (`run`:
 * `synthesis/prepare`, `synthesis/chunk 2`, the chunk counted from 1), and
 * {@link tracker} files a labelled event under that run. An event without a
 * label (a trace from an engine that does not label them) is filed by a
 * rule instead: a run is opened by its `pipeline-started` (the n-th chunk run
 * is chunk n, as chunks are started in order), and a stage event goes to the
 * oldest open run that has that stage in that state (not yet started for a
 * start, running for a warning or a finish). That is exact with chunks
 * generated one after another (BARK_MAX_BATCH=1, or history carry-over); with
 * concurrent chunks the events and results are right but the chunk a result
 * is filed under may not be (`tokenize` names its chunk in its metadata and
 * is always filed right).
 *
 * @since 0.5.0
 */
import { Cause, Effect, Exit } from "effect"
import type { PipelineReport, StageResult } from "../pipeline/StageResult.ts"
import { overallOutcome } from "../pipeline/StageResult.ts"
import * as Timeline from "../pipeline/timeline.ts"
import type { TraceEvent } from "../pipeline/TraceEvent.ts"

/**
 * One pipeline run of a synthesis.
 *
 * @since 0.5.0
 */
export interface Run {
  /** Its place among the trace's runs, from 0. */
  readonly ordinal: number
  /** The label its events carry (`synthesis/chunk 2`), when they carry one. */
  readonly label: string | undefined
  /** e.g. `synthesis/prepare`, `mock/chunk`. */
  readonly pipeline: string
  readonly part: "prepare" | "chunk" | "other"
  /** The chunk, from 0 (as progress events and `tokenize`'s metadata count), for a chunk run. */
  readonly chunk: number | undefined
  readonly stages: ReadonlyArray<string>
}

interface RunState extends Run {
  readonly started: Set<string>
  readonly finished: Set<string>
  failed: boolean
  done: boolean
}

const partOf = (pipeline: string): Run["part"] =>
  pipeline.endsWith("/chunk") ? "chunk" : pipeline.endsWith("/prepare") ? "prepare" : "other"

/**
 * Assigns trace events to the runs they belong to, one event at a time in
 * the order they were emitted (see the module comment for the rule).
 *
 * @since 0.5.0
 */
export interface Tracker {
  /** The run of `event`: for `pipeline-started` the run it opens; `undefined` when no open run fits. */
  readonly assign: (event: TraceEvent) => Run | undefined
  /** The runs so far, in the order they started. */
  readonly runs: () => ReadonlyArray<Run>
  /** Whether every run that started has finished. */
  readonly allDone: () => boolean
}

/** The chunk a run label names (`synthesis/chunk 2` → 1), if it names one. */
const chunkOfLabel = (label: string | undefined): number | undefined => {
  const m = label === undefined ? null : / (\d+)$/.exec(label)
  return m === null ? undefined : Number(m[1]) - 1
}

/**
 * A fresh {@link Tracker}, for one synthesis's events.
 *
 * @since 0.5.0
 */
export const tracker = (): Tracker => {
  const runs: Array<RunState> = []
  const labelled = new Map<string, RunState>()
  const chunks = new Map<string, number>()
  const open = () => runs.filter((r) => !r.done)

  /** The run an unlabelled event belongs to, by the rule of the module comment. */
  const guess = (event: Exclude<TraceEvent, { type: "pipeline-started" }>): RunState | undefined => {
    switch (event.type) {
      case "stage-started":
        return open().find((r) => r.stages.includes(event.stage) && !r.started.has(event.stage) && !r.finished.has(event.stage))
      case "warning":
      case "progress": {
        const candidates = open()
        return candidates.find((r) => r.started.has(event.stage) && !r.finished.has(event.stage)) ??
          candidates.find((r) => r.stages.includes(event.stage))
      }
      case "stage-finished": {
        const { stage, outcome, metadata } = event.result
        // A stage that did not run was never started: it belongs to a run whose earlier stage failed.
        const candidates = outcome === "not-run"
          ? open().filter((r) => r.stages.includes(stage) && !r.started.has(stage) && !r.finished.has(stage))
            .sort((a, b) => Number(b.failed) - Number(a.failed))
          : open().filter((r) => r.started.has(stage) && !r.finished.has(stage))
        const hint = metadata["chunk"]
        return (typeof hint === "number" ? candidates.find((r) => r.chunk === hint) : undefined) ?? candidates[0]
      }
      case "pipeline-finished": {
        const candidates = open().filter((r) => r.pipeline === event.report.pipeline)
        return candidates.find((r) => r.stages.every((s) => r.finished.has(s))) ?? candidates[0]
      }
    }
  }

  const assign = (event: TraceEvent): Run | undefined => {
    if (event.type === "pipeline-started") {
      const part = partOf(event.pipeline)
      const counted = part === "chunk" ? chunks.get(event.pipeline) ?? 0 : undefined
      if (counted !== undefined) chunks.set(event.pipeline, counted + 1)
      const run: RunState = {
        ordinal: runs.length,
        label: event.run,
        pipeline: event.pipeline,
        part,
        chunk: part === "chunk" ? chunkOfLabel(event.run) ?? counted : undefined,
        stages: event.stages,
        started: new Set(),
        finished: new Set(),
        failed: false,
        done: false
      }
      runs.push(run)
      if (event.run !== undefined) labelled.set(event.run, run)
      return run
    }
    const run = (event.run === undefined ? undefined : labelled.get(event.run)) ?? guess(event)
    if (run === undefined) return undefined
    switch (event.type) {
      case "stage-started":
        run.started.add(event.stage)
        break
      case "stage-finished":
        run.finished.add(event.result.stage)
        if (event.result.outcome === "failed") run.failed = true
        break
      case "pipeline-finished":
        run.done = true
        break
    }
    return run
  }

  return { assign, runs: () => runs, allDone: () => runs.every((r) => r.done) }
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
export const stages = (events: ReadonlyArray<TraceEvent>): ReadonlyArray<StageRecord> => {
  const t = tracker()
  const records: Array<StageRecord> = []
  for (const event of events) {
    const run = t.assign(event)
    if (event.type === "stage-finished") {
      records.push({ pipeline: run?.pipeline ?? "", chunk: run?.chunk ?? null, ...event.result })
    }
  }
  return records
}

/** A run's label on the timeline: `prepare`, `chunk 1` (from 1, for people), or the pipeline's name. */
const label = (run: Run) => run.part === "prepare" ? "prepare" : run.part === "chunk" ? `chunk ${run.chunk! + 1}` : run.pipeline

/**
 * The trace as the events of one pipeline named `name`, which
 * `pipeline/timeline.ts` draws as one picture: each stage renamed after its
 * run (`prepare · split`, `chunk 2 · semantic`), one `pipeline-started`
 * listing them all, and one `pipeline-finished` whose report holds every
 * run's results — or none when a run did not finish (the picture then says
 * `interrupted`).
 *
 * @since 0.5.0
 */
export const asOnePipeline = (events: ReadonlyArray<TraceEvent>, name: string): ReadonlyArray<TraceEvent> => {
  const first = events[0]
  if (first === undefined) return []
  const t = tracker()
  const assigned = events.map((event) => [event, t.assign(event)] as const)
  const rename = (run: Run | undefined, stage: string) => run === undefined ? stage : `${label(run)} · ${stage}`
  const reports = new Map<number, PipelineReport>()
  const body: Array<TraceEvent> = []
  let lastAt = first.at
  for (const [event, run] of assigned) {
    lastAt = event.at
    switch (event.type) {
      case "pipeline-started":
        break
      // Without their run labels: the picture is of one pipeline.
      case "stage-started":
        body.push({ type: event.type, at: event.at, stage: rename(run, event.stage), purpose: event.purpose })
        break
      case "warning": {
        const { run: _, ...warning } = event
        body.push({ ...warning, stage: rename(run, event.stage) })
        break
      }
      case "progress": {
        const { run: _, ...progress } = event
        body.push({ ...progress, stage: rename(run, event.stage) })
        break
      }
      case "stage-finished":
        body.push({ type: event.type, at: event.at, result: { ...event.result, stage: rename(run, event.result.stage) } })
        break
      case "pipeline-finished":
        if (run !== undefined) reports.set(run.ordinal, event.report)
        break
    }
  }
  const runs = t.runs()
  const started: TraceEvent = {
    type: "pipeline-started",
    at: first.at,
    pipeline: name,
    stages: runs.flatMap((r) => r.stages.map((s) => rename(r, s)))
  }
  if (!t.allDone() || runs.length === 0) return [started, ...body]
  const results = runs.flatMap((r) => (reports.get(r.ordinal)?.results ?? []).map((result) => ({ ...result, stage: rename(r, result.stage) })))
  const finished: TraceEvent = {
    type: "pipeline-finished",
    at: lastAt,
    report: {
      pipeline: name,
      outcome: overallOutcome(results),
      startedAt: first.at,
      durationMs: Math.max(0, Date.parse(lastAt) - Date.parse(first.at)),
      results
    }
  }
  return [started, ...body, finished]
}

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
 * The trace as an SVG timeline (one row per stage of every run; see
 * {@link asOnePipeline}); fails with `TimelineError` when no stage has
 * started yet.
 *
 * @since 0.5.0
 */
export const toSvg = (events: ReadonlyArray<TraceEvent>, name: string): Effect.Effect<string, Timeline.TimelineError> =>
  Timeline.render(asOnePipeline(events, name))

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
