/**
 * A pipeline: an ordered, inspectable list of stages plus config overrides.
 *
 * `P` is the union of the services its stages provide, `R` the union of all
 * they require. `Runner.run` needs `Exclude<R, P>` from its caller, so a
 * recipe that lacks a stage another stage needs fails to type-check where it
 * is run. Combinators return new pipelines; nothing runs until `Runner.run`.
 *
 * @since 0.1.0
 */
import type { Context } from "effect"
import { Config, Duration, Effect } from "effect"
import { dual } from "effect/Function"
import type { Pipeable } from "effect/Pipeable"
import { pipeArguments } from "effect/Pipeable"
import * as Stage from "./Stage.ts"

export interface Entry {
  readonly stage: Stage.Any
  /** Set by `skip`: the stage is skipped with this reason, whatever its own rule says. */
  readonly forcedSkip: string | undefined
}

export interface Pipeline<out P, out R> extends Pipeable {
  readonly name: string
  readonly description: string
  readonly entries: ReadonlyArray<Entry>
  /** Config values that take precedence over the environment while this pipeline runs. */
  readonly config: Readonly<Record<string, string>>
  /** Phantom: the services provided and required. */
  readonly "~types"?: { readonly provides: P; readonly requires: R }
}

/** Any pipeline. */
export type Any = Pipeline<any, any>

/** Names a stage: by its name, or by the service it provides. */
export type Target = string | Context.Key<any, any>

const proto = {
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const build = <P, R>(
  name: string,
  description: string,
  entries: ReadonlyArray<Entry>,
  config: Readonly<Record<string, string>>
): Pipeline<P, R> => Object.assign(Object.create(proto), { name, description, entries, config })

const entry = (stage: Stage.Any): Entry => ({ stage, forcedSkip: undefined })

export const make = (name: string, description: string): Pipeline<never, never> => build(name, description, [], {})

/** The stages in run order. */
export const stages = (self: Any): ReadonlyArray<Stage.Any> => self.entries.map((e) => e.stage)

const matches = (target: Target) => (e: Entry): boolean =>
  typeof target === "string" ? e.stage.name === target : e.stage.provides.key === target.key

const describeTarget = (target: Target) =>
  typeof target === "string" ? `stage "${target}"` : `the stage providing ${target.key}`

const indexOf = (self: Any, target: Target): number => {
  const i = self.entries.findIndex(matches(target))
  if (i < 0) {
    throw new Error(
      `${describeTarget(target)} is not in pipeline "${self.name}" (stages: ${
        self.entries.map((e) => e.stage.name).join(", ")
      })`
    )
  }
  return i
}

const withEntries = <P, R>(self: Any, entries: ReadonlyArray<Entry>): Pipeline<P, R> =>
  build(self.name, self.description, entries, self.config)

/** Appends a stage. */
export const add: {
  <I, S, E, R2>(stage: Stage.Stage<I, S, E, R2>): <P, R>(self: Pipeline<P, R>) => Pipeline<P | I, R | R2>
  <P, R, I, S, E, R2>(self: Pipeline<P, R>, stage: Stage.Stage<I, S, E, R2>): Pipeline<P | I, R | R2>
} = dual(2, (self: Any, stage: Stage.Any) => {
  if (self.entries.some((e) => e.stage.name === stage.name)) {
    throw new Error(`pipeline "${self.name}" already has a stage named "${stage.name}"`)
  }
  return withEntries(self, [...self.entries, entry(stage)])
})

/** The type `replace` returns for a stage whose service the pipeline does not provide: not a pipeline. */
export interface NotProvided<I> {
  readonly "~error": "the replacement stage provides a service this pipeline does not provide"
  readonly service: I
}

/** Replaces a stage (by name or by the service it provides) with one that provides a service of this pipeline. */
export const replace: {
  <I, S, E, R2>(
    target: Target,
    stage: Stage.Stage<I, S, E, R2>
  ): <P, R>(self: Pipeline<P, R>) => [I] extends [P] ? Pipeline<P, R | R2> : NotProvided<I>
  <P, R, I, S, E, R2>(
    self: Pipeline<P, R>,
    target: Target,
    stage: Stage.Stage<I, S, E, R2>
  ): [I] extends [P] ? Pipeline<P, R | R2> : NotProvided<I>
} = dual(3, (self: Any, target: Target, stage: Stage.Any) => {
  const i = indexOf(self, target)
  const entries = [...self.entries]
  entries[i] = entry(stage)
  return withEntries(self, entries)
})

const insertAt = (self: Any, index: number, stage: Stage.Any) => {
  if (self.entries.some((e) => e.stage.name === stage.name)) {
    throw new Error(`pipeline "${self.name}" already has a stage named "${stage.name}"`)
  }
  return withEntries(self, [...self.entries.slice(0, index), entry(stage), ...self.entries.slice(index)])
}

/** Inserts a stage before another. */
export const insertBefore: {
  <I, S, E, R2>(target: Target, stage: Stage.Stage<I, S, E, R2>): <P, R>(self: Pipeline<P, R>) => Pipeline<P | I, R | R2>
  <P, R, I, S, E, R2>(self: Pipeline<P, R>, target: Target, stage: Stage.Stage<I, S, E, R2>): Pipeline<P | I, R | R2>
} = dual(3, (self: Any, target: Target, stage: Stage.Any) => insertAt(self, indexOf(self, target), stage))

/** Inserts a stage after another. */
export const insertAfter: {
  <I, S, E, R2>(target: Target, stage: Stage.Stage<I, S, E, R2>): <P, R>(self: Pipeline<P, R>) => Pipeline<P | I, R | R2>
  <P, R, I, S, E, R2>(self: Pipeline<P, R>, target: Target, stage: Stage.Stage<I, S, E, R2>): Pipeline<P | I, R | R2>
} = dual(3, (self: Any, target: Target, stage: Stage.Any) => insertAt(self, indexOf(self, target) + 1, stage))

/**
 * Removes the stage providing `key`. Its service is no longer provided, so
 * stages that need it make the recipe fail to type-check where it is run.
 */
export const remove: {
  <I>(key: Context.Key<I, any>): <P, R>(self: Pipeline<P, R>) => Pipeline<Exclude<P, I>, R>
  <P, R, I>(self: Pipeline<P, R>, key: Context.Key<I, any>): Pipeline<Exclude<P, I>, R>
} = dual(2, (self: Any, key: Context.Key<any, any>) => {
  const i = indexOf(self, key)
  return withEntries(self, self.entries.filter((_, j) => j !== i))
})

/** Skips a stage: it provides its declared skip value instead of building. */
export const skip: {
  (target: Target, reason?: string): <P, R>(self: Pipeline<P, R>) => Pipeline<P, R>
  <P, R>(self: Pipeline<P, R>, target: Target, reason?: string): Pipeline<P, R>
} = dual((args) => typeof args[0] === "object" && args[0] !== null && "entries" in args[0], (
  self: Any,
  target: Target,
  reason?: string
) => {
  const i = indexOf(self, target)
  const current = self.entries[i]!
  if (current.stage.skip === undefined) {
    throw new Error(
      `stage "${current.stage.name}" declares no value to provide when skipped; replace it instead of skipping it`
    )
  }
  const entries = [...self.entries]
  entries[i] = { stage: current.stage, forcedSkip: reason ?? "skipped by the recipe" }
  return withEntries(self, entries)
})

/** Sets config values (by environment-variable name) that win over the environment during runs. */
export const withConfig: {
  (values: Readonly<Record<string, string>>): <P, R>(self: Pipeline<P, R>) => Pipeline<P, R>
  <P, R>(self: Pipeline<P, R>, values: Readonly<Record<string, string>>): Pipeline<P, R>
} = dual(2, (self: Any, values: Readonly<Record<string, string>>) =>
  build(self.name, self.description, self.entries, { ...self.config, ...values }))

/** Renames a pipeline (recipes derived from another one). */
export const rename: {
  (name: string, description: string): <P, R>(self: Pipeline<P, R>) => Pipeline<P, R>
  <P, R>(self: Pipeline<P, R>, name: string, description: string): Pipeline<P, R>
} = dual(3, (self: Any, name: string, description: string) => build(name, description, self.entries, self.config))

/**
 * Checks that every stage's declared needs are provided by an earlier stage.
 * Returns one problem per violation (empty when the order is sound).
 */
export const orderProblems = (self: Any): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const provided = new Map<string, string>()
  self.entries.forEach((e) => provided.set(e.stage.provides.key, e.stage.name))
  const seen = new Set<string>()
  for (const { stage } of self.entries) {
    for (const need of stage.needs) {
      if (seen.has(need.key)) continue
      const by = provided.get(need.key)
      problems.push(
        by === undefined
          ? `stage "${stage.name}" needs ${need.key}, which no stage of pipeline "${self.name}" provides`
          : `stage "${stage.name}" needs ${need.key}, which stage "${by}" provides only later: move "${by}" before "${stage.name}"`
      )
    }
    seen.add(stage.provides.key)
  }
  return problems
}

export interface PlanEntry {
  readonly index: number
  readonly stage: string
  readonly purpose: string
  readonly provides: string
  readonly needs: ReadonlyArray<string>
  /** Why the stage would be skipped here, or undefined if it would run. */
  readonly skipReason: string | undefined
  readonly timeoutMs: number | undefined
  readonly retries: boolean
}

export interface Plan {
  readonly pipeline: string
  readonly description: string
  readonly entries: ReadonlyArray<PlanEntry>
  readonly problems: ReadonlyArray<string>
}

/** The reason a stage would be skipped under the current config, or undefined. Runs nothing but the skip rule. */
export const skipReason = (e: Entry): Effect.Effect<string | undefined, Config.ConfigError, any> =>
  e.forcedSkip !== undefined
    ? Effect.succeed(e.forcedSkip)
    : e.stage.skip === undefined
    ? Effect.succeed(undefined)
    : e.stage.skip.when

/**
 * A dry run: each stage, what it provides and needs, and whether it would be
 * skipped here and why. Evaluates skip rules (config reads), builds nothing.
 */
export const plan = <P, R>(self: Pipeline<P, R>): Effect.Effect<Plan, Config.ConfigError, Exclude<R, P>> =>
  Effect.forEach(self.entries, (e, index) =>
    skipReason(e).pipe(Effect.map((reason): PlanEntry => ({
      index,
      stage: e.stage.name,
      purpose: e.stage.purpose,
      provides: e.stage.provides.key,
      needs: e.stage.needs.map((n) => n.key),
      skipReason: reason,
      timeoutMs: e.stage.timeout === undefined ? undefined : Duration.toMillis(e.stage.timeout),
      retries: e.stage.retry !== undefined
    })))).pipe(
      Effect.map((entries) => ({
        pipeline: self.name,
        description: self.description,
        entries,
        problems: orderProblems(self)
      }))
    ) as Effect.Effect<Plan, Config.ConfigError, Exclude<R, P>>
