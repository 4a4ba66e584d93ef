/**
 * A synthesis recipe: the steps of one synthesis as two pipelines of the
 * stage DSL — `prepare`, run once per request (normalise the text, split it
 * into chunks, load the voice, look up the audio cache), and `chunk`, run
 * once per long-form chunk (tokenize, semantic, coarse, fine, codec, post).
 * ./run.ts runs it; the engine runs the default one (./recipes.ts) for
 * every request unless a request names another.
 *
 * Two pipelines because a long text's chunks are generated concurrently
 * (their semantic and coarse steps share batched decoding steps) or, with
 * history carry-over, one after another, while the text and the voice are
 * prepared once. Stages name in `needs` only services of their own pipeline:
 * the request (`SynthesisRequest`), the chunk (`CurrentChunk`), the model's
 * steps (`BarkSteps`) and, for chunk stages, what `prepare` provided are
 * given by the runner. Their requirements are still in the stages' types, so
 * a recipe whose stages need a service nobody gives fails to type-check
 * where it is run.
 *
 * The combinators mirror `Pipeline`'s and act on whichever part holds the
 * stage they name.
 *
 * @since 0.5.0
 */
import type { Context, Scope } from "effect"
import { dual } from "effect/Function"
import type { Pipeable } from "effect/Pipeable"
import { pipeArguments } from "effect/Pipeable"
import * as Pipeline from "../../pipeline/Pipeline.ts"
import type * as Stage from "../../pipeline/Stage.ts"
import type { StageReporter } from "../../pipeline/StageReporter.ts"
import type { BarkSteps } from "./BarkSteps.ts"
import type {
  AudioCacheLookup,
  ChunkAudio,
  CoarseCodes,
  CurrentChunk,
  FineCodes,
  SemanticTokens,
  SpokenAudio,
  SpokenText,
  SynthesisRequest,
  TextChunks,
  TextIds,
  Voice
} from "./services.ts"

/** The services a synthesis provides or the runner gives: what a stage may need without its recipe needing it from outside. */
export type SynthesisServices =
  | SynthesisRequest
  | CurrentChunk
  | BarkSteps
  | StageReporter
  | SpokenText
  | TextChunks
  | Voice
  | AudioCacheLookup
  | TextIds
  | SemanticTokens
  | CoarseCodes
  | FineCodes
  | ChunkAudio
  | SpokenAudio

export interface SynthesisRecipe<out R> extends Pipeable {
  readonly name: string
  readonly description: string
  /** Once per request; must provide `TextChunks` and `Voice` (and may provide `AudioCacheLookup`). */
  readonly prepare: Pipeline.Any
  /** Once per chunk; must provide `SpokenAudio` (and `SemanticTokens`, `CoarseCodes`, `FineCodes` for history carry-over). */
  readonly chunk: Pipeline.Any
  /** Phantom: what the recipe's stages need from outside the synthesis (e.g. FileSystem). */
  readonly "~requires"?: R
}

/** Any recipe. */
export type Any = SynthesisRecipe<any>

const proto = {
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const build = <R>(name: string, description: string, prepare: Pipeline.Any, chunk: Pipeline.Any): SynthesisRecipe<R> =>
  Object.assign(Object.create(proto), { name, description, prepare, chunk })

/** What the stages of a part need beyond the synthesis's own services and the run's scope (the runner opens one per part). */
type Outside<R> = Exclude<R, SynthesisServices | Scope.Scope>

/** `unknown` when `P` provides every service in `Needed`, else a type naming the missing ones (so the call fails to type-check). */
type Provides<P, Needed, Part extends string> = [Exclude<Needed, P>] extends [never] ? unknown
  : { readonly "~missing": { readonly part: Part; readonly services: Exclude<Needed, P> } }

/**
 * A recipe from its two parts. Their types are checked: `prepare` must
 * provide the chunks and the voice, `chunk` the delivered audio.
 */
export const make = <PP, PR, CP, CR>(
  options:
    & {
      readonly name: string
      readonly description: string
      readonly prepare: Pipeline.Pipeline<PP, PR>
      readonly chunk: Pipeline.Pipeline<CP, CR>
    }
    & Provides<PP, TextChunks | Voice, "prepare">
    & Provides<CP, SpokenAudio, "chunk">
): SynthesisRecipe<Outside<PR> | Outside<CR>> => build(options.name, options.description, options.prepare, options.chunk)

const holds = (part: Pipeline.Any, target: Pipeline.Target) =>
  part.entries.some((e) => typeof target === "string" ? e.stage.name === target : e.stage.provides.key === target.key)

/** Applies `f` to the part that holds `target`. */
const onPart = (self: Any, target: Pipeline.Target, f: (part: Pipeline.Any) => Pipeline.Any): Any => {
  if (holds(self.prepare, target)) return build(self.name, self.description, f(self.prepare), self.chunk)
  if (holds(self.chunk, target)) return build(self.name, self.description, self.prepare, f(self.chunk))
  const name = typeof target === "string" ? `stage "${target}"` : `the stage providing ${target.key}`
  const stages = [...Pipeline.stages(self.prepare), ...Pipeline.stages(self.chunk)].map((s) => s.name)
  throw new Error(`${name} is not in synthesis recipe "${self.name}" (stages: ${stages.join(", ")})`)
}

/** Replaces a stage (by name or by the service it provides) with another providing the same service. */
export const replace: {
  <I, S, E extends Stage.StageFailure, R2>(target: Pipeline.Target, stage: Stage.Stage<I, S, E, R2>): <R>(self: SynthesisRecipe<R>) => SynthesisRecipe<R | Outside<R2>>
  <R, I, S, E extends Stage.StageFailure, R2>(self: SynthesisRecipe<R>, target: Pipeline.Target, stage: Stage.Stage<I, S, E, R2>): SynthesisRecipe<R | Outside<R2>>
} = dual(3, (self: Any, target: Pipeline.Target, stage: Stage.Any) =>
  onPart(self, target, (part) => Pipeline.replace(part, target, stage) as Pipeline.Any))

/** Skips a stage: it provides its declared skip value instead of running (e.g. `fine` in the draft lane). */
export const skip: {
  (target: Pipeline.Target, reason?: string): <R>(self: SynthesisRecipe<R>) => SynthesisRecipe<R>
  <R>(self: SynthesisRecipe<R>, target: Pipeline.Target, reason?: string): SynthesisRecipe<R>
} = dual((args) => typeof args[0] === "object" && args[0] !== null && "chunk" in args[0], (
  self: Any,
  target: Pipeline.Target,
  reason?: string
) => onPart(self, target, (part) => Pipeline.skip(part, target, reason)))

/** Inserts a stage before another, in that one's part. */
export const insertBefore: {
  <I, S, E extends Stage.StageFailure, R2>(target: Pipeline.Target, stage: Stage.Stage<I, S, E, R2>): <R>(self: SynthesisRecipe<R>) => SynthesisRecipe<R | Outside<R2>>
  <R, I, S, E extends Stage.StageFailure, R2>(self: SynthesisRecipe<R>, target: Pipeline.Target, stage: Stage.Stage<I, S, E, R2>): SynthesisRecipe<R | Outside<R2>>
} = dual(3, (self: Any, target: Pipeline.Target, stage: Stage.Any) =>
  onPart(self, target, (part) => Pipeline.insertBefore(part, target, stage)))

/** Inserts a stage after another, in that one's part. */
export const insertAfter: {
  <I, S, E extends Stage.StageFailure, R2>(target: Pipeline.Target, stage: Stage.Stage<I, S, E, R2>): <R>(self: SynthesisRecipe<R>) => SynthesisRecipe<R | Outside<R2>>
  <R, I, S, E extends Stage.StageFailure, R2>(self: SynthesisRecipe<R>, target: Pipeline.Target, stage: Stage.Stage<I, S, E, R2>): SynthesisRecipe<R | Outside<R2>>
} = dual(3, (self: Any, target: Pipeline.Target, stage: Stage.Any) =>
  onPart(self, target, (part) => Pipeline.insertAfter(part, target, stage)))

/**
 * Removes a stage whose service nothing else needs (e.g. the text normaliser,
 * in a recipe that gives the text as written: then replace it instead, since
 * `split` needs `SpokenText`).
 */
export const remove: {
  <I>(key: Context.Key<I, any>): <R>(self: SynthesisRecipe<R>) => SynthesisRecipe<R>
  <R, I>(self: SynthesisRecipe<R>, key: Context.Key<I, any>): SynthesisRecipe<R>
} = dual(2, (self: Any, key: Context.Key<any, any>) => onPart(self, key, (part) => Pipeline.remove(part, key)))

/** Sets config values that win over the environment while the recipe runs (both parts). */
export const withConfig: {
  (values: Readonly<Record<string, string>>): <R>(self: SynthesisRecipe<R>) => SynthesisRecipe<R>
  <R>(self: SynthesisRecipe<R>, values: Readonly<Record<string, string>>): SynthesisRecipe<R>
} = dual(2, (self: Any, values: Readonly<Record<string, string>>) =>
  build(self.name, self.description, Pipeline.withConfig(self.prepare, values), Pipeline.withConfig(self.chunk, values)))

/** Renames a recipe (recipes derived from another one). */
export const rename: {
  (name: string, description: string): <R>(self: SynthesisRecipe<R>) => SynthesisRecipe<R>
  <R>(self: SynthesisRecipe<R>, name: string, description: string): SynthesisRecipe<R>
} = dual(3, (self: Any, name: string, description: string) =>
  build(
    name,
    description,
    Pipeline.rename(self.prepare, `${name}/prepare`, self.prepare.description),
    Pipeline.rename(self.chunk, `${name}/chunk`, self.chunk.description)
  ))

/** Is `value` a synthesis recipe (the CLI loads recipes and pipelines from the same folder)? */
export const isSynthesisRecipe = (value: unknown): value is Any =>
  typeof value === "object" && value !== null && "prepare" in value && "chunk" in value && Object.getPrototypeOf(value) === proto
