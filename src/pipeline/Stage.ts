/**
 * A stage: a named, typed step of a pipeline that provides exactly one
 * service (a Context key) and may require the services of earlier stages.
 *
 * The build effect's requirements are tracked in the stage's type, so a
 * pipeline that lacks a stage some other stage needs leaves that service
 * unprovided and does not type-check when run (see `Runner.run`).
 *
 * @since 0.1.0
 */
import type { Config, Context, Effect, Schedule } from "effect"
import { Duration } from "effect"
import type { StageFatal } from "./StageFatal.ts"
import type { StageReporter } from "./StageReporter.ts"

/**
 * Errors a build may fail with. `StageFatal` carries a remediation; other
 * tagged errors with a `message` (e.g. a `ConfigError`, a library's own
 * error with a `remediation` field) are recorded under their own tag.
 */
export type StageFailure = StageFatal | Config.ConfigError | {
  readonly _tag: string
  readonly message: string
  readonly remediation?: string
}

export interface SkipRule<S, R> {
  /** A reason to skip, or `undefined` to run. Read from config or the environment; never does work. */
  readonly when: Effect.Effect<string | undefined, Config.ConfigError, R>
  /** The value the stage provides when skipped. */
  readonly value: Effect.Effect<S, StageFailure, R | StageReporter>
}

export interface Stage<in out I, in out S, out R> {
  readonly name: string
  /** One line: what the stage is for. */
  readonly purpose: string
  readonly provides: Context.Key<I, S>
  /** The stage services the build uses, for ordering checks and `plan`. */
  readonly needs: ReadonlyArray<Context.Key<any, any>>
  readonly build: Effect.Effect<S, StageFailure, R | StageReporter>
  readonly skip: SkipRule<S, R> | undefined
  readonly timeout: Duration.Duration | undefined
  readonly retry: Schedule.Schedule<unknown, StageFailure> | undefined
}

/** Any stage, whatever it provides or needs. */
export type Any = Stage<any, any, any>

export interface Options<I, S, R> {
  readonly name: string
  readonly purpose: string
  readonly provides: Context.Key<I, S>
  readonly needs?: ReadonlyArray<Context.Key<any, any>>
  readonly build: Effect.Effect<S, StageFailure, R>
  readonly skip?: SkipRule<S, Exclude<R, StageReporter>>
  readonly timeout?: Duration.Input
  readonly retry?: Schedule.Schedule<unknown, StageFailure>
}

export const make = <I, S, R>(options: Options<I, S, R>): Stage<I, S, Exclude<R, StageReporter>> => ({
  name: options.name,
  purpose: options.purpose,
  provides: options.provides,
  needs: options.needs ?? [],
  build: options.build as Effect.Effect<S, StageFailure, Exclude<R, StageReporter> | StageReporter>,
  skip: options.skip,
  timeout: options.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout),
  retry: options.retry
})

/** The name of the service a stage provides, as shown in plans. */
export const providedKey = (stage: Any): string => stage.provides.key
