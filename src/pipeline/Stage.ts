/**
 * A stage: a named, typed step of a pipeline that provides exactly one
 * service (a Context key) and may require the services of earlier stages.
 *
 * `Stage<I, S, E, R>` reads like a `Layer<I, E, R>` with a name, a purpose
 * and a run policy: it provides the service `I` (shaped `S`), its build fails
 * only with `E`, and it requires `R`. The requirements are tracked in the
 * type, so a pipeline that lacks a stage some other stage needs leaves that
 * service unprovided and does not type-check when run (see `Runner.run`).
 * The errors are tracked too, so each stage says what it can fail with
 * instead of every stage failing with one shared union; `E` is bounded by
 * `StageFailure` because the runner records every failure by its `_tag`,
 * `message` and `remediation`.
 *
 * A stage and a layer convert into each other (`toLayer`, `fromLayer`): a
 * stage's service can be provided to code outside a pipeline, and a layer a
 * test suite already has (a mock, a fake codec) can stand in a recipe.
 *
 * @since 0.1.0
 */
import type { Config, Schedule, Scope } from "effect"
import { Context, Duration, Effect, Layer } from "effect"
import type { StageFatal } from "./StageFatal.ts"
import { detached, StageReporter } from "./StageReporter.ts"

/**
 * What a stage may fail with: anything the runner can describe. `StageFatal`
 * carries a remediation; other tagged errors with a `message` (e.g. a
 * `ConfigError`, a library's own error with a `remediation` field) are
 * recorded under their own tag. The bound of every stage's error type.
 *
 * @since 0.1.0
 */
export type StageFailure = StageFatal | Config.ConfigError | {
  readonly _tag: string
  readonly message: string
  readonly remediation?: string
}

/**
 * What the runner gives every build and skip value, so that no stage
 * requires them: the stage's reporter and the run's Scope (resources a build
 * acquires live until the caller's scope closes).
 *
 * @since 0.5.0
 */
export type Given = StageReporter | Scope.Scope

/**
 * When a stage is skipped, and what it provides then.
 *
 * @since 0.1.0
 */
export interface SkipRule<S, E, R> {
  /** A reason to skip, or `undefined` to run. Read from config or the environment; never does work. */
  readonly when: Effect.Effect<string | undefined, E, R>
  /** The value the stage provides when skipped. */
  readonly value: Effect.Effect<S, E, R | Given>
}

/**
 * A stage providing `I` (a service shaped `S`), failing with `E`, requiring `R`.
 * The constructors (`make`, `fromLayer`) bound `E` by `StageFailure`, so the
 * runner can describe every failure. Like a layer's, `E` and `R` are
 * covariant: a stage that cannot fail is a stage failing with anything.
 *
 * @since 0.1.0
 */
export interface Stage<in out I, in out S, out E, out R> {
  readonly name: string
  /** One line: what the stage is for. */
  readonly purpose: string
  readonly provides: Context.Key<I, S>
  /** The stage services the build uses, for ordering checks and `plan`. */
  readonly needs: ReadonlyArray<Context.Key<any, any>>
  readonly build: Effect.Effect<S, E, R | Given>
  readonly skip: SkipRule<S, E, R> | undefined
  readonly timeout: Duration.Duration | undefined
  /**
   * Fed each failed attempt's error: the build's, or the runner's `Timeout`
   * StageFatal. `make` checks the schedule against the stage's errors; the
   * input type is left out here (`never`), which keeps `E` covariant.
   */
  readonly retry: Schedule.Schedule<unknown, never> | undefined
}

/**
 * Any stage, whatever it provides, fails with or needs.
 *
 * @since 0.1.0
 */
export type Any = Stage<any, any, any, any>

/**
 * The error type of a stage: what its build (and its skip rule) can fail with.
 *
 * @since 0.5.0
 */
export type Error<T extends Any> = T extends Stage<infer _I, infer _S, infer E, infer _R> ? E : never

/**
 * The services a stage requires from earlier stages or from the caller (never
 * the `Given` ones).
 *
 * @since 0.5.0
 */
export type Requirements<T extends Any> = T extends Stage<infer _I, infer _S, infer _E, infer R> ? R : never

/**
 * What `make` takes. The errors of the build (`E`) and of the skip rule's two
 * effects (`EW`, `EV`) are inferred apart, so each may fail differently; the
 * stage fails with their union.
 *
 * @since 0.1.0
 */
export interface Options<I, S, E, R, EW = never, EV = never> {
  readonly name: string
  readonly purpose: string
  readonly provides: Context.Key<I, S>
  readonly needs?: ReadonlyArray<Context.Key<any, any>>
  readonly build: Effect.Effect<S, E, R>
  readonly skip?: {
    readonly when: Effect.Effect<string | undefined, EW, Exclude<R, Given>>
    readonly value: Effect.Effect<S, EV, Exclude<R, Given> | Given>
  }
  readonly timeout?: Duration.Input
  readonly retry?: Schedule.Schedule<unknown, NoInfer<E> | StageFatal>
}

/**
 * A stage from its build. The stage's error type is inferred from the build
 * (and the skip rule): a build that can only fail with `MyError` gives a
 * `Stage<I, S, MyError, R>`.
 *
 * @since 0.1.0
 */
export const make = <
  I,
  S,
  E extends StageFailure = never,
  R = never,
  EW extends StageFailure = never,
  EV extends StageFailure = never
>(options: Options<I, S, E, R, EW, EV>): Stage<I, S, E | EW | EV, Exclude<R, Given>> => ({
  name: options.name,
  purpose: options.purpose,
  provides: options.provides,
  needs: options.needs ?? [],
  build: options.build as Effect.Effect<S, E, Exclude<R, Given> | Given>,
  skip: options.skip as SkipRule<S, E | EW | EV, Exclude<R, Given>> | undefined,
  timeout: options.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout),
  retry: options.retry
})

/**
 * The stage's service built as a layer, for code outside a pipeline (a
 * library call, a test). Its skip rule applies — when `skip.when` gives a
 * reason, the layer provides `skip.value` — and so does its retry schedule;
 * its timeout is the runner's and does not. Warnings go to the log (see
 * `StageReporter.detached`); progress and metadata are dropped. Resources
 * the build acquires live as long as the layer.
 *
 * @since 0.5.0
 */
export const toLayer = <I, S, E, R>(stage: Stage<I, S, E, R>): Layer.Layer<I, E, R> => {
  const reporter = detached(stage.name)
  const retry = stage.retry
  const build = retry === undefined ? stage.build : Effect.suspend(() => {
    let attempts = 0
    return Effect.suspend(() => {
      attempts++
      return stage.build
    }).pipe(
      Effect.tapError((e) => reporter.warn(`attempt ${attempts} failed: ${(e as { message?: string }).message ?? String(e)}`)),
      Effect.retry(retry as Schedule.Schedule<unknown, E | StageFatal>)
    )
  })
  const skip = stage.skip
  const service = skip === undefined ? build : Effect.flatMap(skip.when, (reason) =>
    reason === undefined
      ? build
      : Effect.logDebug(`stage "${stage.name}" skipped: ${reason}`).pipe(Effect.andThen(skip.value)))
  // Layer.effect gives the build a Scope (the layer's) and takes it out of the requirements.
  return Layer.effect(
    stage.provides,
    Effect.withSpan(Effect.provideService(service, StageReporter, reporter), `stage ${stage.name}`, {
      attributes: { "stage.purpose": stage.purpose },
      captureStackTrace: false
    })
  ) as Layer.Layer<I, E, R>
}

/**
 * A stage that builds a layer and provides the service `provides` from it:
 * a layer a test suite already has (a mocked fine stage, a fake codec) stands
 * in a recipe. Its errors and requirements are the layer's; the layer's
 * resources live in the run's Scope (which `Runner.run` requires and gives
 * every build), so they are released when that scope closes. Each run builds the layer anew, as
 * `Layer.build` does (sharing it only with an enclosing layer build that
 * already holds it).
 *
 * @since 0.5.0
 */
export const fromLayer = <I, S, E extends StageFailure, R>(options: {
  readonly name: string
  readonly purpose: string
  readonly provides: Context.Key<I, S>
  readonly needs?: ReadonlyArray<Context.Key<any, any>>
  readonly layer: Layer.Layer<NoInfer<I>, E, R>
}): Stage<I, S, E, R> =>
  make({
    name: options.name,
    purpose: options.purpose,
    provides: options.provides,
    needs: options.needs ?? [],
    build: Effect.map(Layer.build(options.layer), (context) => Context.get(context, options.provides))
  })

/**
 * The name of the service a stage provides, as shown in plans.
 *
 * @since 0.1.0
 */
export const providedKey = (stage: Any): string => stage.provides.key
