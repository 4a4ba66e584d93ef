/**
 * Runs a pipeline: builds its stages in order, records a StageResult for each,
 * stops at the first fatal failure (later stages are `not-run`), enforces
 * timeouts and retries, emits trace events as it goes, and returns the report
 * together with the built services.
 *
 * A startup run also records where it ran (the environment probe) and what
 * each stage cost in memory (RSS before and after, and the peak). A pipeline
 * that runs once per request asks for a lean run instead (`lean: true`): the
 * same outcomes, warnings, metadata, trace events and spans, without the
 * probe and the memory readings — which cost time on every request and, for
 * the peak, reset a process-wide high-water mark that concurrent requests
 * would trample.
 *
 * @since 0.1.0
 */
import type { Schedule, Scope } from "effect"
import { Cause, ConfigProvider, Context, Duration, Effect, Exit, Option, Schema } from "effect"
import type { Json } from "effect/Schema"
import * as Environment from "./Environment.ts"
import * as Memory from "./memory.ts"
import * as Pipeline from "./Pipeline.ts"
import { StageFatal } from "./StageFatal.ts"
import * as StageReporter from "./StageReporter.ts"
import type { Outcome, StageError, StageResult, Warning } from "./StageResult.ts"
import { overallOutcome, PipelineReport } from "./StageResult.ts"
import type { TraceEvent } from "./TraceEvent.ts"
import type { TraceSink } from "./TraceSink.ts"

export interface RunOptions {
  readonly sinks?: ReadonlyArray<TraceSink>
  /** Extra environment facts for the report (e.g. onnxruntime's version and execution providers). */
  readonly probes?: ReadonlyArray<Environment.Probe>
  /** Config values that win over both the environment and the pipeline's own overrides (the CLI's `--set`). */
  readonly config?: Readonly<Record<string, string>>
  /** Minimum interval between progress events of one stage, in ms (default 200). */
  readonly progressIntervalMs?: number
  /**
   * A run for pipelines that run once per request (default false): no
   * environment probe (the report has no `environment`; `probes` are not run)
   * and no memory readings per stage (no `rssBeforeMb`, `rssAfterMb` or
   * `peakRssMb`; the peak's process-global reset is not touched, so
   * concurrent runs do not disturb each other). Everything else is as in a
   * full run: outcomes, warnings, metadata, skip rules, timeouts, retries,
   * trace events to the sinks, and a span per stage.
   *
   * @since 0.5.0
   */
  readonly lean?: boolean
}

/** A successful run: the report and the services the stages provided. */
export interface Ready<P> {
  readonly report: PipelineReport
  readonly context: Context.Context<P>
}

export class PipelineFailed extends Schema.TaggedError<PipelineFailed>()("PipelineFailed", {
  message: Schema.String,
  remediation: Schema.String,
  /** The stage that failed, or undefined when the pipeline itself is malformed. */
  stage: Schema.optionalKey(Schema.String),
  errorTag: Schema.String,
  report: PipelineReport,
  /**
   * The failed stage's own error, as its build failed with it (one of the
   * stage's `Stage.Error` types, or the runner's `Timeout` StageFatal), for a
   * caller that passes typed errors on; absent when the stage died or the
   * recipe is misordered.
   */
  error: Schema.optionalKey(Schema.Unknown)
}) {}

/** The current time as ISO-8601; formatted once per millisecond, since a run asks for it a few times per stage. */
const now = (() => {
  let lastMs = -1
  let lastIso = ""
  return (): string => {
    const ms = Date.now()
    if (ms !== lastMs) {
      lastMs = ms
      lastIso = new Date(ms).toISOString()
    }
    return lastIso
  }
})()

/** Sends an event to every sink (no work at all when there are none). */
const emitter = (sinks: ReadonlyArray<TraceSink>): (event: TraceEvent) => Effect.Effect<void> => {
  if (sinks.length === 0) return () => Effect.void
  if (sinks.length === 1) {
    const sink = sinks[0]!
    return (event) => sink.emit(event)
  }
  return (event) => Effect.forEach(sinks, (s) => s.emit(event), { discard: true })
}

/** Order problems per pipeline: pipelines are immutable, and a per-request pipeline is checked on every run. */
const problemsCache = new WeakMap<Pipeline.Any, ReadonlyArray<string>>()
const orderProblems = (pipeline: Pipeline.Any): ReadonlyArray<string> => {
  let problems = problemsCache.get(pipeline)
  if (problems === undefined) {
    problems = Pipeline.orderProblems(pipeline)
    problemsCache.set(pipeline, problems)
  }
  return problems
}

/**
 * Spans name the pipeline and the stage; the call site they would capture
 * is always this module, so it is not captured (that costs a stack trace per
 * span). Passed data-first: effect 4.1's pipeable `withSpan` does not read
 * `captureStackTrace`.
 */
const spanOptions = (attributes?: Record<string, unknown>) =>
  attributes === undefined ? { captureStackTrace: false } : { attributes, captureStackTrace: false }

const describeFailure = (stage: string, cause: Cause.Cause<unknown>): StageError => {
  const error = Cause.findErrorOption(cause)
  if (Option.isNone(error)) {
    const pretty = Cause.pretty(cause).split("\n")[0] ?? "unknown defect"
    return {
      tag: "Defect",
      message: `stage "${stage}" crashed: ${pretty}`,
      remediation: "this is a bug in the stage; report it together with the trace file"
    }
  }
  const e = error.value as { readonly _tag?: string; readonly message?: string; readonly remediation?: string }
  if (e instanceof StageFatal) {
    return { tag: e.errorTag ?? e._tag, message: e.message, remediation: e.remediation }
  }
  const tag = e._tag ?? "Error"
  return {
    tag,
    message: e.message ?? String(e),
    remediation: e.remediation ??
      (tag === "ConfigError"
        ? "fix the configuration value named above (environment variable, or --set KEY=VALUE on the runner)"
        : "see the message above")
  }
}

/** RSS after the stage and the peak during it, next to the reading taken before it. */
const memoryReadings = (rssBeforeMb: number, peakSince: () => number | undefined) => {
  const rssAfterMb = Environment.rssMb()
  const peak = peakSince()
  return {
    rssBeforeMb,
    rssAfterMb,
    // The high-water mark and the two samples come from different reads: never report a peak below them.
    ...(peak === undefined ? {} : { peakRssMb: Math.max(peak, rssBeforeMb, rssAfterMb) })
  }
}

interface StageRun {
  readonly result: StageResult
  readonly value: Option.Option<unknown>
  /** The typed error the stage failed with, if it failed with one. */
  readonly error: Option.Option<unknown>
}

const notRun = (stage: string): StageResult => ({
  stage,
  outcome: "not-run",
  durationMs: 0,
  attempts: 0,
  metadata: {},
  warnings: []
})

/**
 * Runs the pipeline. Its services stay alive until the caller's Scope closes.
 * Fails with `PipelineFailed` (carrying the full report) when a stage fails.
 * Pass `lean: true` for a pipeline that runs once per request.
 */
export const run = <P, R>(
  pipeline: Pipeline.Pipeline<P, R>,
  options: RunOptions = {}
): Effect.Effect<Ready<P>, PipelineFailed, Exclude<R, P> | Scope.Scope> =>
  Effect.gen(function*() {
    const sinks = options.sinks ?? []
    const interval = options.progressIntervalMs ?? 200
    const measure = options.lean !== true
    const emit = emitter(sinks)
    const startedAt = now()
    const t0 = performance.now()

    const environment = measure
      ? { environment: Object.assign({}, yield* Environment.probe, ...(yield* Effect.all(options.probes ?? []))) }
      : {}

    yield* emit({ type: "pipeline-started", at: startedAt, pipeline: pipeline.name, stages: pipeline.entries.map((e) => e.stage.name) })

    const finish = (results: ReadonlyArray<StageResult>, failed: boolean) =>
      Effect.gen(function*() {
        const report: PipelineReport = {
          pipeline: pipeline.name,
          outcome: failed ? "failed" : overallOutcome(results),
          startedAt,
          durationMs: Math.round(performance.now() - t0),
          ...environment,
          results
        }
        yield* emit({ type: "pipeline-finished", at: now(), report })
        return report
      })

    const problems = orderProblems(pipeline)
    if (problems.length > 0) {
      const results = pipeline.entries.map((e) => notRun(e.stage.name))
      const report = yield* finish(results, true)
      return yield* new PipelineFailed({
        message: problems.join("; "),
        remediation: "reorder the recipe so that every stage comes after the stages it needs (see `bark-pipeline plan`)",
        errorTag: "PipelineOrder",
        report
      })
    }

    const given = (yield* Effect.context<never>()) as Context.Context<any>
    // What the stages provided so far; the run's fiber already holds what the caller gave.
    let provided = Context.empty() as Context.Context<any>
    const results: Array<StageResult> = []
    let failure: { stage: string; error: StageError; cause: Option.Option<unknown> } | undefined

    for (const entry of pipeline.entries) {
      const stage = entry.stage
      if (failure !== undefined) {
        const result = notRun(stage.name)
        results.push(result)
        yield* emit({ type: "stage-finished", at: now(), result })
        continue
      }
      const { result, value, error } = yield* runStage(entry, provided, emit, interval, measure)
      results.push(result)
      yield* emit({ type: "stage-finished", at: now(), result })
      if (Option.isSome(value)) {
        provided = Context.add(provided, stage.provides, value.value)
      } else if (result.error !== undefined) {
        failure = { stage: stage.name, error: result.error, cause: error }
      }
    }

    const report = yield* finish(results, failure !== undefined)
    if (failure !== undefined) {
      return yield* new PipelineFailed({
        message: `stage "${failure.stage}" failed: ${failure.error.message}`,
        remediation: failure.error.remediation,
        stage: failure.stage,
        errorTag: failure.error.tag,
        report,
        ...(Option.isSome(failure.cause) ? { error: failure.cause.value } : {})
      })
    }
    return { report, context: Context.merge(given, provided) as Context.Context<P> }
  }).pipe(
    withOverrides({ ...pipeline.config, ...options.config }),
    (self) => Effect.withSpan(self, `pipeline ${pipeline.name}`, spanOptions())
  ) as Effect.Effect<Ready<P>, PipelineFailed, Exclude<R, P> | Scope.Scope>

/** Config values that win over the current ConfigProvider during the run (nothing to do when there are none). */
const withOverrides = (overrides: Readonly<Record<string, string>>) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Object.keys(overrides).length === 0 ? self : self.pipe(
    Effect.provideServiceEffect(
      ConfigProvider.ConfigProvider,
      Effect.map(ConfigProvider.ConfigProvider, (current) => ConfigProvider.orElse(ConfigProvider.fromEnv({ env: overrides }), current))
    )
  )

const runStage = (
  entry: Pipeline.Entry,
  provided: Context.Context<any>,
  emit: (event: TraceEvent) => Effect.Effect<void>,
  progressIntervalMs: number,
  measure: boolean
): Effect.Effect<StageRun> =>
  Effect.gen(function*() {
    const { stage } = entry
    const warnings: Array<Warning> = []
    const metadata: Record<string, Json> = {}
    let attempts = 0
    let lastProgress = 0
    let doneAlready: string | undefined

    const reporter = StageReporter.StageReporter.of({
      stage: stage.name,
      warn: (message, remediation) => {
        const warning: Warning = remediation === undefined ? { message } : { message, remediation }
        warnings.push(warning)
        return emit({ type: "warning", at: now(), stage: stage.name, ...warning })
      },
      progress: (update) => {
        const t = performance.now()
        const final = update.total !== undefined && update.done >= update.total
        if (!final && t - lastProgress < progressIntervalMs) return Effect.void
        lastProgress = t
        return emit({ type: "progress", at: now(), stage: stage.name, ...update })
      },
      annotate: (fields) => Effect.sync(() => void Object.assign(metadata, fields)),
      skipped: (reason) => Effect.sync(() => void (doneAlready = reason)),
      emit
    })

    const startedAt = now()
    yield* emit({ type: "stage-started", at: startedAt, stage: stage.name, purpose: stage.purpose })
    const t0 = performance.now()
    const rssBeforeMb = measure ? Environment.rssMb() : 0
    const peakSince = measure ? Memory.startPeak(yield* Memory.PeakRssProbe) : undefined

    // The fiber holds the caller's services and the stage's span; add the earlier stages' services and the reporter.
    const services = Context.add(provided, StageReporter.StageReporter, reporter)
    const provide = <A, E>(effect: Effect.Effect<A, E, any>) => Effect.provideContext(effect, services)

    const skipExit: Exit.Exit<string | undefined, unknown> = entry.forcedSkip !== undefined
      ? Exit.succeed(entry.forcedSkip)
      : stage.skip === undefined
      ? Exit.succeed(undefined)
      : yield* Effect.exit(provide(stage.skip.when))
    let skipReason: string | undefined
    let buildExit: Exit.Exit<unknown, unknown>
    if (Exit.isFailure(skipExit)) {
      buildExit = skipExit
    } else if (skipExit.value !== undefined && stage.skip !== undefined) {
      skipReason = skipExit.value
      attempts = 0
      buildExit = yield* Effect.exit(provide(stage.skip.value))
    } else {
      let attempt: Effect.Effect<unknown, unknown, any> = Effect.suspend(() => {
        attempts++
        return stage.build
      })
      if (stage.timeout !== undefined) {
        const limit = stage.timeout
        attempt = attempt.pipe(Effect.timeoutOrElse({
          duration: limit,
          orElse: () =>
            Effect.fail(
              new StageFatal({
                message: `stage "${stage.name}" did not finish within ${Duration.format(limit)}`,
                remediation: "check what the stage waits on (network, disk, device), or give it a longer timeout in the recipe",
                errorTag: "Timeout"
              })
            )
        }))
      }
      if (stage.retry !== undefined) {
        const schedule = stage.retry
        attempt = attempt.pipe(
          Effect.tapError((e: unknown) =>
            reporter.warn(
              `attempt ${attempts} failed: ${(e as { message?: string }).message ?? String(e)}`
            )
          ),
          Effect.retry(schedule as Schedule.Schedule<unknown, unknown>)
        )
      }
      buildExit = yield* Effect.exit(provide(attempt))
    }

    if (Exit.isFailure(buildExit) && Cause.hasInterruptsOnly(buildExit.cause)) {
      return yield* Effect.failCause(buildExit.cause as Cause.Cause<never>)
    }

    const durationMs = Math.round((performance.now() - t0) * 10) / 10
    const base = {
      stage: stage.name,
      startedAt,
      durationMs,
      ...(peakSince === undefined ? {} : memoryReadings(rssBeforeMb, peakSince)),
      attempts,
      metadata,
      warnings
    }
    if (Exit.isFailure(buildExit)) {
      const error = describeFailure(stage.name, buildExit.cause)
      yield* Effect.annotateCurrentSpan({ "stage.outcome": "failed", "stage.error": error.tag })
      return {
        result: { ...base, outcome: "failed" as Outcome, error },
        value: Option.none(),
        error: Cause.findErrorOption(buildExit.cause)
      }
    }
    if (warnings.length === 0) skipReason ??= doneAlready
    const outcome: Outcome = skipReason !== undefined ? "skipped" : warnings.length > 0 ? "warned" : "succeeded"
    yield* Effect.annotateCurrentSpan({ "stage.outcome": outcome })
    const result: StageResult = skipReason === undefined ? { ...base, outcome } : { ...base, outcome, skipReason }
    return { result, value: Option.some(buildExit.value), error: Option.none() }
  }).pipe((self) => Effect.withSpan(self, `stage ${entry.stage.name}`, spanOptions({ "stage.purpose": entry.stage.purpose })))
