/**
 * The Bark engine in the calling thread: every request runs a synthesis
 * recipe (../synthesis: the default `synthesis`, `draft`, or one given in the
 * engine's options) over the model's steps on this thread — the text
 * normalised and split into chunks that fit Bark's ~14 s window, each chunk
 * through semantic → coarse → fine → codec with the request's voice and
 * sampler — and chunks are streamed as they are ready. onnxruntime's `run`
 * blocks this thread while a model runs; a server should use the worker
 * engine (./workerEngine.ts), which runs this one on another thread.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path, Stream } from "effect"
import * as AudioCache from "../synthesis/AudioCacheStore.ts"
import * as InProcessSteps from "../synthesis/inProcessSteps.ts"
import { BarkSteps } from "../synthesis/BarkSteps.ts"
import * as SynthesisLoad from "../synthesis/load.ts"
import * as Synthesis from "../synthesis/run.ts"
import { AudioCacheStore } from "../synthesis/services.ts"
import type { BarkModels } from "../models.ts"
import type { SplitOptions } from "../text.ts"
import { collectSynthesis, DEFAULT_SILENCE_SECONDS } from "./assemble.ts"
import { type AudioChunk, BarkEngine, type SynthesisError, type SynthesisOptions } from "./BarkEngine.ts"
import type { GenerationDefaults } from "./samplingSettings.ts"

export interface EngineOptions {
  /** Pause between long-form chunks, in seconds. Default 0.25. */
  readonly silenceSeconds?: number
  /** How text is cut into chunks (words and tokens per chunk, locale). */
  readonly split?: Omit<SplitOptions, "countTokens">
  /** Parameters every request starts from, e.g. `{ semantic: { maxGenDurationS: 2 } }`. */
  readonly generation?: GenerationDefaults
  /**
   * Sequences decoded together in one step (BARK_MAX_BATCH; default 1: each
   * alone). Above 1 the engine keeps a running batch per causal model that
   * every request's chunks join and leave at step boundaries (continuous
   * batching), and the chunks of a long text without history carry-over are
   * generated together.
   */
  readonly maxBatch?: number
  /** The synthesis recipe requests run unless they name another: a name or a module path (BARK_SYNTHESIS; default `synthesis`). */
  readonly synthesis?: string
  /** What the audio cache keys on besides the request: the model served, its commit and weight type. */
  readonly identity?: { readonly model: string; readonly revision: string | null; readonly dtype: string }
  /** Keep finished syntheses here (BARK_AUDIO_CACHE=on); default none. */
  readonly audioCache?: { readonly dir: string; readonly maxBytes: number } | undefined
}

/**
 * Builds the engine for `models` and the model directory they came from:
 * its `vocab.txt` (tokenizer) and its voices (`speaker_embeddings_path.json`).
 */
export const makeBarkEngine = Effect.fn("makeBarkEngine")(function*(
  models: BarkModels,
  modelDir: string,
  options: EngineOptions = {}
) {
  const services = yield* Effect.context<FileSystem.FileSystem | Path.Path>()
  const maxBatch = Math.max(1, options.maxBatch ?? 1)
  const steps = yield* InProcessSteps.make(models, modelDir, { maxBatch })
  const defaultRecipe = options.synthesis ?? "synthesis"
  yield* SynthesisLoad.load(defaultRecipe)
  const identity = options.identity ?? { model: modelDir, revision: null, dtype: "fp32" }
  const cache = AudioCacheStore.of({
    ...identity,
    cache: options.audioCache === undefined ? undefined : yield* AudioCache.make(options.audioCache)
  })
  const run: Synthesis.RunOptions = {
    concurrency: maxBatch,
    silenceSeconds: options.silenceSeconds ?? DEFAULT_SILENCE_SECONDS,
    split: options.split ?? {},
    generation: options.generation ?? {}
  }

  const stream = (text: string, request: SynthesisOptions = {}): Stream.Stream<AudioChunk, SynthesisError> =>
    Stream.unwrap(Effect.map(SynthesisLoad.load(request.synthesis ?? defaultRecipe), (recipe) => Synthesis.stream(recipe, text, request, run))).pipe(
      Stream.provideService(BarkSteps, steps),
      Stream.provideService(AudioCacheStore, cache),
      Stream.provideContext(services)
    )

  return BarkEngine.of({
    kind: "bark",
    sampleRate: steps.sampleRate,
    voices: steps.voices,
    stream,
    synthesize: (text, request) => collectSynthesis(stream(text, request), steps.sampleRate)
  })
})
