/**
 * Runs a pipeline: builds its stages in order, records a StageResult for each,
 * stops at the first fatal failure (later stages are `not-run`), enforces
 * timeouts and retries, emits trace events as it goes, and returns the report
 * together with the built services.
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
  report: PipelineReport
}) {}

const now = () => new Date().toISOString()

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

interface StageRun {
  readonly result: StageResult
  readonly value: Option.Option<unknown>
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
 */
export const run = <P, R>(
  pipeline: Pipeline.Pipeline<P, R>,
  options: RunOptions = {}
): Effect.Effect<Ready<P>, PipelineFailed, Exclude<R, P> | Scope.Scope> =>
  Effect.gen(function*() {
    const sinks = options.sinks ?? []
    const interval = options.progressIntervalMs ?? 200
    const emit = (event: TraceEvent) => Effect.forEach(sinks, (s) => s.emit(event), { discard: true })
    const startedAt = now()
    const t0 = performance.now()

    const base = yield* Environment.probe
    const extras = yield* Effect.all(options.probes ?? [])
    const environment = Object.assign({}, base, ...extras)

    yield* emit({ type: "pipeline-started", at: startedAt, pipeline: pipeline.name, stages: pipeline.entries.map((e) => e.stage.name) })

    const finish = (results: ReadonlyArray<StageResult>, failed: boolean) =>
      Effect.gen(function*() {
        const report: PipelineReport = {
          pipeline: pipeline.name,
          outcome: failed ? "failed" : overallOutcome(results),
          startedAt,
          durationMs: Math.round(performance.now() - t0),
          environment,
          results
        }
        yield* emit({ type: "pipeline-finished", at: now(), report })
        return report
      })

    const problems = Pipeline.orderProblems(pipeline)
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

    let context = (yield* Effect.context<never>()) as Context.Context<any>
    const results: Array<StageResult> = []
    let failure: { stage: string; error: StageError } | undefined

    for (const entry of pipeline.entries) {
      const stage = entry.stage
      if (failure !== undefined) {
        const result = notRun(stage.name)
        results.push(result)
        yield* emit({ type: "stage-finished", at: now(), result })
        continue
      }
      const { result, value } = yield* runStage(entry, context, emit, interval)
      results.push(result)
      yield* emit({ type: "stage-finished", at: now(), result })
      if (Option.isSome(value)) {
        context = Context.add(context, stage.provides, value.value)
      } else if (result.error !== undefined) {
        failure = { stage: stage.name, error: result.error }
      }
    }

    const report = yield* finish(results, failure !== undefined)
    if (failure !== undefined) {
      return yield* new PipelineFailed({
        message: `stage "${failure.stage}" failed: ${failure.error.message}`,
        remediation: failure.error.remediation,
        stage: failure.stage,
        errorTag: failure.error.tag,
        report
      })
    }
    return { report, context: context as Context.Context<P> }
  }).pipe(
    Effect.provideServiceEffect(
      ConfigProvider.ConfigProvider,
      Effect.map(ConfigProvider.ConfigProvider, (current) => {
        const overrides = { ...pipeline.config, ...options.config }
        return Object.keys(overrides).length === 0
          ? current
          : ConfigProvider.orElse(ConfigProvider.fromEnv({ env: overrides }), current)
      })
    ),
    Effect.withSpan(`pipeline ${pipeline.name}`)
  ) as Effect.Effect<Ready<P>, PipelineFailed, Exclude<R, P> | Scope.Scope>

const runStage = (
  entry: Pipeline.Entry,
  context: Context.Context<any>,
  emit: (event: TraceEvent) => Effect.Effect<void>,
  progressIntervalMs: number
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
      skipped: (reason) => Effect.sync(() => void (doneAlready = reason))
    })

    yield* emit({ type: "stage-started", at: now(), stage: stage.name, purpose: stage.purpose })
    const startedAt = now()
    const t0 = performance.now()
    const rssBeforeMb = Environment.rssMb()
    const peakSince = Memory.startPeak(yield* Memory.PeakRssProbe)

    const provide = <A, E>(effect: Effect.Effect<A, E, any>) =>
      effect.pipe(Effect.provideService(StageReporter.StageReporter, reporter), Effect.provideContext(context))

    const skipExit = yield* Effect.exit(provide(
      entry.forcedSkip !== undefined
        ? Effect.succeed(entry.forcedSkip)
        : stage.skip === undefined
        ? Effect.succeed(undefined)
        : stage.skip.when
    ))
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

    const rssAfterMb = Environment.rssMb()
    const peak = peakSince()
    const base = {
      stage: stage.name,
      startedAt,
      durationMs: Math.round((performance.now() - t0) * 10) / 10,
      rssBeforeMb,
      rssAfterMb,
      // The high-water mark and the two samples come from different reads: never report a peak below them.
      ...(peak === undefined ? {} : { peakRssMb: Math.max(peak, rssBeforeMb, rssAfterMb) }),
      attempts,
      metadata,
      warnings
    }
    if (Exit.isFailure(buildExit)) {
      const error = describeFailure(stage.name, buildExit.cause)
      yield* Effect.annotateCurrentSpan({ "stage.outcome": "failed", "stage.error": error.tag })
      return { result: { ...base, outcome: "failed" as Outcome, error }, value: Option.none() }
    }
    if (warnings.length === 0) skipReason ??= doneAlready
    const outcome: Outcome = skipReason !== undefined ? "skipped" : warnings.length > 0 ? "warned" : "succeeded"
    yield* Effect.annotateCurrentSpan({ "stage.outcome": outcome })
    const result: StageResult = skipReason === undefined ? { ...base, outcome } : { ...base, outcome, skipReason }
    return { result, value: Option.some(buildExit.value) }
  }).pipe(Effect.withSpan(`stage ${entry.stage.name}`, { attributes: { "stage.purpose": entry.stage.purpose } }))
