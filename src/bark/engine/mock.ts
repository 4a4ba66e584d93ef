/**
 * The Mock engine: a `BarkEngine` with no models, for development and for
 * tests of everything above the engine (the server, queueing, load tests).
 *
 * Audio is a deterministic tone sequence — one tone per word, its pitch
 * derived from the word, the voice and the seed — at 24 kHz, about 65 ms per
 * character, with Bark's pause between long-form chunks. It knows Bark's
 * standard voice names and rejects others. `BARK_MOCK_LATENCY_MS` simulates
 * generation time per chunk (interruptible, so cancellation is observable).
 *
 * @since 0.1.0
 */
import { Config, ConfigProvider, Effect, Stream } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { splitText } from "../text.ts"
import { collectSynthesis, DEFAULT_SILENCE_SECONDS, withLeadingSilence } from "./assemble.ts"
import { type AudioChunk, BarkEngine, type SynthesisOptions, SynthesisError } from "./BarkEngine.ts"
import { invalidInput } from "./errors.ts"
import { resolveSampling } from "./samplingSettings.ts"

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

/** Builds the Mock engine. */
export const makeMockEngine = (options: MockOptions = {}): BarkEngine["Service"] => {
  const latency = options.latencyMs ?? 0
  const known = new Set(standardVoices)

  const stream = (text: string, request: SynthesisOptions = {}): Stream.Stream<AudioChunk, SynthesisError> =>
    Stream.unwrap(Effect.gen(function*() {
      if (typeof text !== "string" || text.trim() === "") {
        return yield* invalidInput("the text is empty", "Give some text to speak.")
      }
      const voice = request.voice ?? "announcer"
      if (!known.has(voice)) return yield* unknownVoice(voice)
      const { seed } = yield* resolveSampling({ ...request, seed: request.seed ?? 0 })
      const { chunks } = splitText(text)
      const onProgress = request.onProgress

      const generate = (index: number) =>
        Effect.gen(function*() {
          const chunk = chunks[index]!
          const audio = mockAudio(chunk.text, voice, seed ?? 0)
          const seconds = audio.length / SAMPLE_RATE
          for (const stage of ["semantic", "coarse", "fine"] as const) {
            yield* Effect.sleep(latency / 3)
            const total = Math.round(seconds * TOKENS_PER_SECOND[stage])
            if (onProgress !== undefined) yield* onProgress({ chunk: index, chunks: chunks.length, stage, done: total, total })
          }
          return {
            index,
            text: chunk.text,
            audio: index === 0 ? audio : withLeadingSilence(audio, SAMPLE_RATE, DEFAULT_SILENCE_SECONDS),
            sampleRate: SAMPLE_RATE,
            splitSentence: chunk.splitSentence,
            ...(seed === undefined ? {} : { seed })
          } satisfies AudioChunk
        })

      return Stream.fromIterable(chunks.keys()).pipe(Stream.mapEffect(generate))
    }))

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
