/**
 * The Bark engine in the calling thread: text is normalised and split into
 * chunks that fit Bark's ~14 s window (src/bark/text.ts), each chunk runs
 * semantic → coarse → fine → codec with the request's voice and sampler, and
 * chunks are streamed as they are ready. onnxruntime's `run` blocks this
 * thread while a model runs; a server should use the worker engine
 * (./workerEngine.ts), which runs this one on another thread.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path, Stream } from "effect"
import * as Batch from "../generate/batch.ts"
import { generateAudio, type GenerationStage } from "../generate/generate.ts"
import type { VoicePrompt } from "../generate/VoicePrompt.ts"
import type { BarkModels } from "../models.ts"
import { splitText, type SplitOptions } from "../text.ts"
import { loadTokenizer } from "../tokenizer.ts"
import { listVoices, loadVoice } from "../voices.ts"
import { collectSynthesis, DEFAULT_SILENCE_SECONDS, withLeadingSilence } from "./assemble.ts"
import { type AudioChunk, BarkEngine, type SynthesisError, type SynthesisOptions } from "./BarkEngine.ts"
import { invalidInput, toSynthesisError } from "./errors.ts"
import { type GenerationDefaults, resolveSampling } from "./samplingSettings.ts"

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
  const path = yield* Path.Path
  const services = yield* Effect.context<FileSystem.FileSystem | Path.Path>()
  const tokenizer = yield* loadTokenizer(path.join(modelDir, "vocab.txt"))
  const voices = yield* listVoices(modelDir)
  const sampleRate = models.codec.sampleRate
  const silenceSeconds = options.silenceSeconds ?? DEFAULT_SILENCE_SECONDS
  const countTokens = (text: string) => tokenizer.encode(text).length

  const maxBatch = Math.max(1, options.maxBatch ?? 1)
  const schedulers = maxBatch > 1
    ? {
      semantic: yield* Batch.make(models.semantic, { maxBatch }),
      coarse: yield* Batch.make(models.coarse, { maxBatch })
    }
    : undefined

  const voiceCache = new Map<string, VoicePrompt>()
  const voicePrompt = (voice: string | undefined): Effect.Effect<VoicePrompt | undefined, SynthesisError> => {
    if (voice === undefined) return Effect.succeed(undefined)
    const cached = voiceCache.get(voice)
    if (cached !== undefined) return Effect.succeed(cached)
    return loadVoice(modelDir, voice).pipe(
      Effect.tap((prompt) => Effect.sync(() => voices.includes(voice) && voiceCache.set(voice, prompt))),
      Effect.mapError(toSynthesisError),
      Effect.provideContext(services)
    )
  }

  const stream = (text: string, request: SynthesisOptions = {}): Stream.Stream<AudioChunk, SynthesisError> =>
    Stream.unwrap(Effect.gen(function*() {
      if (typeof text !== "string" || text.trim() === "") {
        return yield* invalidInput("the text is empty", "Give some text to speak.")
      }
      const sampling = yield* resolveSampling(request, options.generation)
      let history = yield* voicePrompt(request.voice)
      const { chunks } = splitText(text, { ...options.split, countTokens })
      const seed = sampling.seed === undefined ? {} : { seed: sampling.seed }
      const onProgress = request.onProgress

      const generate = (index: number) =>
        Effect.gen(function*() {
          const chunk = chunks[index]!
          const out = yield* generateAudio(models, { text: chunk.text, tokenizer }, {
            voice: history,
            semantic: sampling.semantic,
            coarse: sampling.coarse,
            fine: sampling.fine,
            sampler: sampling.samplerFor(index),
            schedulers,
            ...(onProgress === undefined ? {} : {
              onProgress: (stage: GenerationStage, done: number, total: number, batch?: number) =>
                onProgress({ chunk: index, chunks: chunks.length, stage, done, total, ...(batch === undefined ? {} : { batch }) })
            })
          }).pipe(Effect.mapError(toSynthesisError))
          if (request.carryHistory === true) history = { semantic: out.semantic.tokens, coarse: out.coarse, fine: out.fine }
          return {
            index,
            text: chunk.text,
            audio: index === 0 ? out.audio : withLeadingSilence(out.audio, sampleRate, silenceSeconds),
            sampleRate,
            splitSentence: chunk.splitSentence,
            ...seed
          } satisfies AudioChunk
        })

      // Chunks prompted by the one before go one after another; the others go together into the batch.
      const concurrency = request.carryHistory === true ? 1 : maxBatch
      return Stream.fromIterable(chunks.keys()).pipe(Stream.mapEffect(generate, { concurrency }))
    }))

  return BarkEngine.of({
    kind: "bark",
    sampleRate,
    voices,
    stream,
    synthesize: (text, request) => collectSynthesis(stream(text, request), sampleRate)
  })
})
