/**
 * Runs a synthesis recipe for one request: checks the options, runs the
 * `prepare` pipeline once, then the `chunk` pipeline for every chunk of the
 * text — concurrently up to the engine's batch size (so their semantic and
 * coarse steps share batched decoding steps), or one after another when each
 * chunk is prompted by the one before (history carry-over) — and streams the
 * chunks in order as they are ready. A cache hit from `prepare` is streamed
 * instead of generating; a miss is stored once the last chunk is done.
 *
 * The pipelines run lean (no environment probe, no memory measurement): the
 * runner's cost per request is a few stage records, not a probe of the
 * machine. Their trace events go to the request's `onTrace`.
 *
 * @since 0.5.0
 */
import { Context, Effect, Option, Stream } from "effect"
import type { TraceEvent } from "../../pipeline/TraceEvent.ts"
import * as Runner from "../../pipeline/Runner.ts"
import type { TraceSink } from "../../pipeline/TraceSink.ts"
import { joinAudio } from "../engine/assemble.ts"
import { type AudioChunk, SynthesisError, type SynthesisOptions } from "../engine/BarkEngine.ts"
import { invalidInput, toSynthesisError } from "../engine/errors.ts"
import { type GenerationDefaults, resolveSampling } from "../engine/samplingSettings.ts"
import type { VoicePrompt } from "../generate/VoicePrompt.ts"
import type { SplitOptions } from "../text.ts"
import type { CachedAudio } from "./AudioCacheStore.ts"
import { BarkSteps } from "./BarkSteps.ts"
import {
  AudioCacheLookup,
  CoarseCodes,
  CurrentChunk,
  FineCodes,
  SemanticTokens,
  SpokenAudio,
  SynthesisRequest,
  TextChunks,
  Voice
} from "./services.ts"
import type { SynthesisRecipe } from "./SynthesisRecipe.ts"

export interface RunOptions {
  /** Chunks generated at once (the engine's BARK_MAX_BATCH); 1: one after another. */
  readonly concurrency: number
  readonly silenceSeconds: number
  readonly split: Omit<SplitOptions, "countTokens">
  readonly generation: GenerationDefaults
}

/** A failed stage as the synthesis error it failed with (or one built from its record). */
const failure = (e: Runner.PipelineFailed): SynthesisError => {
  const error = e.error as { readonly _tag?: unknown; readonly message?: unknown; readonly remediation?: unknown } | undefined
  if (error instanceof SynthesisError) return error
  if (typeof error?._tag === "string" && typeof error.message === "string") {
    return toSynthesisError({ _tag: error._tag, message: error.message, remediation: typeof error.remediation === "string" ? error.remediation : e.remediation })
  }
  return new SynthesisError({ reason: e.errorTag === "PipelineOrder" ? "recipe" : "generation", message: e.message, remediation: e.remediation })
}

/** The request's trace as a sink for one run, each event labelled with the run (`synthesis/prepare`, `synthesis/chunk 2`). */
const sinksOf = (onTrace: SynthesisOptions["onTrace"], run: string): ReadonlyArray<TraceSink> =>
  onTrace === undefined ? [] : [{ emit: (event: TraceEvent) => onTrace({ ...event, run }) }]

/** The chunks of a cached synthesis, as they were first delivered. */
const fromCache = (hit: CachedAudio, seed: number | undefined): ReadonlyArray<AudioChunk> => {
  let at = 0
  return hit.chunks.map((c, index) => {
    const audio = hit.samples.slice(at, at + c.samples)
    at += c.samples
    return { index, text: c.text, audio, sampleRate: hit.sampleRate, splitSentence: c.splitSentence, ...(seed === undefined ? {} : { seed }) }
  })
}

/**
 * The history prompt a chunk hands the next with carry-over: its semantic
 * tokens and all eight codebooks. A recipe without those (the draft lane has
 * no fine codebooks; the mock has no tokens) hands on nothing, and later
 * chunks keep the history they had.
 */
const carried = (context: Context.Context<never>): VoicePrompt | undefined => {
  const semantic = Context.getOption(context, SemanticTokens)
  const coarse = Context.getOption(context, CoarseCodes)
  const fine = Context.getOption(context, FineCodes)
  if (Option.isNone(semantic) || Option.isNone(coarse) || Option.isNone(fine) || fine.value.codes.rows !== 8) return undefined
  return { semantic: semantic.value.tokens, coarse: coarse.value.codes, fine: fine.value.codes }
}

/** `text` spoken with `recipe`: the chunks in order, as each is ready. */
export const stream = <R>(
  recipe: SynthesisRecipe<R>,
  text: string,
  options: SynthesisOptions,
  run: RunOptions
): Stream.Stream<AudioChunk, SynthesisError, BarkSteps | R> =>
  Stream.unwrap(Effect.gen(function*() {
    if (typeof text !== "string" || text.trim() === "") return yield* invalidInput("the text is empty", "Give some text to speak.")
    const sampling = yield* resolveSampling(options, run.generation)
    const steps = yield* BarkSteps
    const request = SynthesisRequest.of({ recipe: recipe.name, text, options, sampling, silenceSeconds: run.silenceSeconds, split: run.split })
    const given = Context.make(SynthesisRequest, request).pipe(Context.add(BarkSteps, steps))

    const prepared = yield* Runner.run(recipe.prepare, { sinks: sinksOf(options.onTrace, recipe.prepare.name), lean: true }).pipe(
      Effect.provideContext(given),
      Effect.mapError(failure)
    )
    const seed = sampling.seed === undefined ? {} : { seed: sampling.seed }
    const cache = Context.getOption(prepared.context, AudioCacheLookup)
    if (Option.isSome(cache) && cache.value.hit !== undefined) return Stream.fromIterable(fromCache(cache.value.hit, sampling.seed))

    const { chunks } = Context.get(prepared.context, TextChunks)
    const voice = Context.get(prepared.context, Voice)
    const carry = options.carryHistory === true
    const context = Context.merge(given, prepared.context)
    let history = voice.prompt

    const generate = (index: number) =>
      Effect.gen(function*() {
        const chunk = chunks[index]!
        const current = CurrentChunk.of({ index, count: chunks.length, chunk, history, sampler: sampling.samplerFor(index) })
        const sinks = sinksOf(options.onTrace, `${recipe.chunk.name} ${index + 1}`)
        const done = yield* Runner.run(recipe.chunk, { sinks, lean: true }).pipe(
          Effect.provideContext(Context.add(context, CurrentChunk, current)),
          Effect.mapError(failure)
        )
        if (carry) history = carried(done.context) ?? history
        return {
          index,
          text: chunk.text,
          audio: Context.get(done.context, SpokenAudio).audio,
          sampleRate: steps.sampleRate,
          splitSentence: chunk.splitSentence,
          ...seed
        } satisfies AudioChunk
      }).pipe(Effect.scoped)

    const generated = Stream.fromIterable(chunks.keys()).pipe(Stream.mapEffect(generate, { concurrency: carry ? 1 : run.concurrency }))
    const store = Option.isSome(cache) ? cache.value.store : undefined
    if (store === undefined) return generated
    const delivered: Array<AudioChunk> = []
    return generated.pipe(
      Stream.tap((chunk) => Effect.sync(() => delivered.push(chunk))),
      Stream.concat(Stream.fromEffect(Effect.suspend(() =>
        store({
          samples: joinAudio(delivered),
          sampleRate: steps.sampleRate,
          chunks: delivered.map((c) => ({ text: c.text, samples: c.audio.length, splitSentence: c.splitSentence }))
        })
      )).pipe(Stream.drain))
    )
  }))
