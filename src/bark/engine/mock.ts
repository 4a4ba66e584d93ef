/**
 * The Mock engine: a `BarkEngine` with no models, for development and for
 * tests of everything above the engine (the server, queueing, load tests).
 *
 * Audio is a deterministic tone sequence — one tone per word, its pitch
 * derived from the word, the voice and the seed — at 24 kHz, about 65 ms per
 * character, with Bark's pause between long-form chunks. It knows Bark's
 * standard voice names and rejects others. `BARK_MOCK_LATENCY_MS` simulates
 * generation time per chunk (interruptible, so cancellation is observable).
 * Requests run the mock's own synthesis recipe (split, voice, then tones and
 * the pause per chunk) through the same runner as Bark's, so a service on
 * the mock traces its requests' stages too.
 *
 * @since 0.1.0
 */
import { Config, ConfigProvider, Effect, Stream } from "effect"
import * as Pipeline from "../../pipeline/Pipeline.ts"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { BarkSteps } from "../synthesis/BarkSteps.ts"
import * as Post from "../synthesis/post.ts"
import * as Synthesis from "../synthesis/run.ts"
import { ChunkAudio, CurrentChunk, SynthesisRequest, TextChunks, Voice } from "../synthesis/services.ts"
import * as SynthesisRecipe from "../synthesis/SynthesisRecipe.ts"
import { splitText } from "../text.ts"
import { collectSynthesis, DEFAULT_SILENCE_SECONDS } from "./assemble.ts"
import { type AudioChunk, BarkEngine, type SynthesisOptions, SynthesisError } from "./BarkEngine.ts"

/** Bark's sample rate (EnCodec 24 kHz). */
export const SAMPLE_RATE = 24_000

/** The languages of Bark's voice presets. */
export const voiceLanguages = ["en", "de", "es", "fr", "hi", "it", "ja", "ko", "pl", "pt", "ru", "tr", "zh"] as const

/** Bark's standard voice presets: `announcer`, `{lang}_speaker_{0..9}` and `v2/{lang}_speaker_{0..9}`. */
export const standardVoices: ReadonlyArray<string> = [
  "announcer",
  ...voiceLanguages.flatMap((lang) => Array.from({ length: 10 }, (_, n) => `${lang}_speaker_${n}`)),
  ...voiceLanguages.flatMap((lang) => Array.from({ length: 10 }, (_, n) => `v2/${lang}_speaker_${n}`))
]

/** BARK_MOCK_LATENCY_MS: simulated generation time per long-form chunk. Default 0. */
export const latencyMs = Config.Int("BARK_MOCK_LATENCY_MS").pipe(
  Config.withDefault(0),
  Config.mapEffect((ms) =>
    ms >= 0 ? Effect.succeed(ms) : Effect.fail(new Config.ConfigError(
      new ConfigProvider.SourceError({ message: `BARK_MOCK_LATENCY_MS=${ms} must be 0 or more milliseconds` })
    ))
  )
)

export interface MockOptions {
  /** Simulated generation time per chunk, in ms (default 0). */
  readonly latencyMs?: number
}

const SECONDS_PER_CHAR = 0.065
/** Bark's token rates: semantic 49.9/s, coarse 2 codebooks × 75/s, fine 8 codebooks × 75/s. */
const TOKENS_PER_SECOND = { semantic: 49.9, coarse: 150, fine: 600 } as const

/** FNV-1a, 32 bits: a stable hash of a string. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** One tone per word, lengths proportional to the words' characters, with 10 ms fades against clicks. */
export const mockAudio = (text: string, voice: string, seed: number): Float32Array => {
  const words = text.split(/\s+/).filter((w) => w !== "")
  const total = Math.max(1, Math.round(Math.max(text.length, 1) * SECONDS_PER_CHAR * SAMPLE_RATE))
  const audio = new Float32Array(total)
  const chars = words.reduce((n, w) => n + w.length, 0) || 1
  const fade = Math.round(0.01 * SAMPLE_RATE)
  let at = 0
  for (const [i, word] of words.entries()) {
    const length = i === words.length - 1 ? total - at : Math.round((total * word.length) / chars)
    const frequency = 110 + (hash(`${voice}|${seed}|${word}`) % 660)
    for (let n = 0; n < length; n++) {
      const envelope = Math.min(1, n / fade, (length - n) / fade)
      audio[at + n] = 0.3 * envelope * Math.sin((2 * Math.PI * frequency * n) / SAMPLE_RATE)
    }
    at += length
  }
  return audio
}

const unknownVoice = (voice: string) =>
  new SynthesisError({
    reason: "unknown-voice",
    message: `the mock engine has no voice "${voice}"`,
    remediation: `use "announcer", "{lang}_speaker_{0..9}" or "v2/{lang}_speaker_{0..9}" with lang one of ${
      voiceLanguages.join(", ")
    } (GET /v1/voices lists them)`
  })

/** mock-voice: checks the voice is one of Bark's standard names (no prompt: the mock has no models). */
const mockVoice = Stage.make({
  name: "voice",
  purpose: "check the voice is one of Bark's standard names",
  provides: Voice,
  build: Effect.gen(function*() {
    const voice = (yield* SynthesisRequest).options.voice ?? "announcer"
    if (!standardVoices.includes(voice)) return yield* unknownVoice(voice)
    return Voice.of({ name: voice, prompt: undefined })
  })
})

/** split, as the mock does it: sentences packed by words, no tokenizer. */
const mockSplit = Stage.make({
  name: "split",
  purpose: "cut the text into chunks at sentence boundaries (by words: the mock has no tokenizer)",
  provides: TextChunks,
  build: Effect.gen(function*() {
    const { chunks } = splitText((yield* SynthesisRequest).text)
    yield* StageReporter.annotate({ chunks: chunks.length })
    return TextChunks.of({ chunks })
  })
})

/** mock-audio: the chunk's tones, after the simulated generation time (a third per generation stage, with their progress). */
const mockGenerate = (latency: number) =>
  Stage.make({
    name: "mock-audio",
    purpose: "make the chunk's deterministic tones after the simulated generation time",
    provides: ChunkAudio,
    build: Effect.gen(function*() {
      const { index, count, chunk } = yield* CurrentChunk
      const { options, sampling } = yield* SynthesisRequest
      const voice = (yield* Voice).name ?? "announcer"
      const audio = mockAudio(chunk.text, voice, sampling.seed ?? 0)
      const seconds = audio.length / SAMPLE_RATE
      for (const stage of ["semantic", "coarse", "fine"] as const) {
        yield* Effect.sleep(latency / 3)
        const total = Math.round(seconds * TOKENS_PER_SECOND[stage])
        if (options.onProgress !== undefined) yield* options.onProgress({ chunk: index, chunks: count, stage, done: total, total })
      }
      yield* StageReporter.annotate({ samples: audio.length, audioSeconds: Math.round(seconds * 1000) / 1000 })
      return ChunkAudio.of({ audio })
    })
  })

/** The mock's synthesis recipe: the request's text split and its voice checked, then tones per chunk. */
export const mockSynthesis = (latency: number) =>
  SynthesisRecipe.make({
    name: "mock",
    description: "the Mock engine's synthesis: one deterministic tone per word, no models",
    prepare: Pipeline.make("mock/prepare", "once per request: the chunks, the voice").pipe(
      Pipeline.add(mockSplit),
      Pipeline.add(mockVoice)
    ),
    chunk: Pipeline.make("mock/chunk", "once per chunk: tones, the pause before them").pipe(
      Pipeline.add(mockGenerate(latency)),
      Pipeline.add(Post.stage)
    )
  })

const noModels = () =>
  Effect.fail(new SynthesisError({
    reason: "recipe",
    message: "the mock engine has no models: its recipe cannot run Bark's generation stages",
    remediation: "use the mock's own recipe, or a profile with a model (demo, cpu, startup)"
  }))

/** The mock's steps: Bark's sample rate and voice names, and no models. */
const mockSteps = BarkSteps.of({
  sampleRate: SAMPLE_RATE,
  voices: standardVoices,
  tokenizer: {
    vocabSize: 0,
    tokenize: (text) => text.split(/\s+/).filter((w) => w !== ""),
    encode: (text) => new Int32Array(text.split(/\s+/).filter((w) => w !== "").length)
  },
  voice: (name) => Effect.fail(unknownVoice(name)),
  semantic: noModels,
  coarse: noModels,
  fine: noModels,
  codec: noModels
})

/** Builds the Mock engine: every request runs the mock's synthesis recipe, so its stages are traced like Bark's. */
export const makeMockEngine = (options: MockOptions = {}): BarkEngine["Service"] => {
  const recipe = mockSynthesis(options.latencyMs ?? 0)
  const run: Synthesis.RunOptions = { concurrency: 1, silenceSeconds: DEFAULT_SILENCE_SECONDS, split: {}, generation: {} }
  // No seed means seed 0: the mock's audio is the same for the same text and voice.
  const stream = (text: string, request: SynthesisOptions = {}): Stream.Stream<AudioChunk, SynthesisError> =>
    Synthesis.stream(recipe, text, { ...request, seed: request.seed ?? 0 }, run).pipe(Stream.provideService(BarkSteps, mockSteps))

  return BarkEngine.of({
    kind: "mock",
    sampleRate: SAMPLE_RATE,
    voices: standardVoices,
    stream,
    synthesize: (text, request) => collectSynthesis(stream(text, request), SAMPLE_RATE)
  })
}

/** The stage of the mock recipe: provides the Mock engine, reading BARK_MOCK_LATENCY_MS. */
export const stage = Stage.make({
  name: "mock-engine",
  purpose: "provide the deterministic Mock engine (no weights)",
  provides: BarkEngine,
  build: Effect.gen(function*() {
    const latency = yield* latencyMs
    yield* StageReporter.annotate({ kind: "mock", latencyMs: latency, voices: standardVoices.length })
    return makeMockEngine({ latencyMs: latency })
  })
})
