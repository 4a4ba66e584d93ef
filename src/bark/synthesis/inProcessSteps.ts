/**
 * `BarkSteps` on this thread's models: the generation stages of
 * src/bark/generate over `models`, with the tokenizer (`vocab.txt`) and the
 * voices of the model directory (or given, for parity cases). With `maxBatch` above 1 the semantic and
 * coarse steps join a running batch per causal model (continuous batching);
 * their tokens are the same as alone.
 *
 * @since 0.5.0
 */
import { Effect, FileSystem, Path } from "effect"
import type { SynthesisError } from "../engine/BarkEngine.ts"
import { toSynthesisError } from "../engine/errors.ts"
import * as Batch from "../generate/batch.ts"
import { coarseDecoding, generateCoarse } from "../generate/coarse.ts"
import { generateFine } from "../generate/fine.ts"
import { resumeSampler, type SamplerState, type Sampler } from "../generate/sampling.ts"
import { generateSemantic, semanticDecoding } from "../generate/semantic.ts"
import type { VoicePrompt } from "../generate/VoicePrompt.ts"
import type { BarkModels } from "../models.ts"
import { loadTokenizer, type Tokenizer } from "../tokenizer.ts"
import { listVoices, loadVoice } from "../voices.ts"
import { BarkSteps, type Sampled } from "./BarkSteps.ts"

export interface InProcessStepsOptions {
  /** Sequences decoded together in one step (default 1: each alone). */
  readonly maxBatch?: number
}

/** Runs `use` with a sampler resumed from `from`, and returns its value with where the sampler ended. */
const sampled = <A, E, R>(from: SamplerState, use: (sampler: Sampler) => Effect.Effect<A, E, R>): Effect.Effect<Sampled<A>, E, R> =>
  Effect.suspend(() => {
    const { sampler, state } = resumeSampler(from)
    return Effect.map(use(sampler), (value) => ({ value, sampler: state() }))
  })

/** What the steps need besides the models: the tokenizer and the voices, from a model directory or given (parity cases). */
export interface TextAndVoices {
  readonly tokenizer: Tokenizer
  readonly voices: ReadonlyArray<string>
  readonly voice: (name: string) => Effect.Effect<VoicePrompt, SynthesisError>
}

/** The steps over `models`, with the tokenizer and voices given. */
export const fromModels = Effect.fn("bark.inProcessSteps")(function*(
  models: BarkModels,
  text: TextAndVoices,
  options: InProcessStepsOptions = {}
) {
  const maxBatch = Math.max(1, options.maxBatch ?? 1)
  const schedulers = maxBatch > 1
    ? { semantic: yield* Batch.make(models.semantic, { maxBatch }), coarse: yield* Batch.make(models.coarse, { maxBatch }) }
    : undefined

  return BarkSteps.of({
    sampleRate: models.codec.sampleRate,
    ...text,
    semantic: ({ textIds, history, params, sampler, onProgress }) =>
      sampled(sampler, (draw) => {
        const options = { ...params, sampler: draw, history, onProgress }
        return schedulers === undefined
          ? generateSemantic(models.semantic, textIds, options)
          : Effect.flatMap(semanticDecoding(textIds, options), schedulers.semantic.submit)
      }).pipe(Effect.mapError(toSynthesisError)),
    coarse: ({ semantic, history, params, sampler, onProgress }) =>
      sampled(sampler, (draw) => {
        const options = { ...params, sampler: draw, history, onProgress }
        return schedulers === undefined
          ? generateCoarse(models.coarse, semantic, options)
          : Effect.flatMap(coarseDecoding(semantic, options), schedulers.coarse.submit)
      }).pipe(Effect.mapError(toSynthesisError)),
    fine: ({ coarse, history, params, sampler, onProgress }) =>
      sampled(sampler, (draw) => generateFine(models.fine, coarse, { ...params, sampler: draw, history, onProgress })).pipe(
        Effect.mapError(toSynthesisError)
      ),
    codec: (codes) => models.codec.decode(codes.data, codes.frames, codes.rows).pipe(Effect.mapError(toSynthesisError))
  })
})

/** The steps over `models` and the model directory they came from: its `vocab.txt` and its voices (cached per name). */
export const make = Effect.fn("bark.inProcessStepsOfDir")(function*(
  models: BarkModels,
  modelDir: string,
  options: InProcessStepsOptions = {}
) {
  const path = yield* Path.Path
  const services = yield* Effect.context<FileSystem.FileSystem | Path.Path>()
  const tokenizer = yield* loadTokenizer(path.join(modelDir, "vocab.txt"))
  const voices = yield* listVoices(modelDir)
  const cache = new Map<string, VoicePrompt>()
  const voice = (name: string) => {
    const cached = cache.get(name)
    if (cached !== undefined) return Effect.succeed(cached)
    return loadVoice(modelDir, name).pipe(
      Effect.tap((prompt) => Effect.sync(() => voices.includes(name) && cache.set(name, prompt))),
      Effect.mapError(toSynthesisError),
      Effect.provideContext(services)
    )
  }
  return yield* fromModels(models, { tokenizer, voices, voice }, options)
})
