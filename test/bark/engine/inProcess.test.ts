/**
 * The in-process engine on a tiny random model with real onnxruntime
 * sessions: long-form chunking, seeds, argmax, voices, input checks,
 * history carrying, progress, and interruption reaching the token loop.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import type { AudioChunk, SynthesisProgress } from "../../../src/bark/engine/BarkEngine.ts"
import { makeBarkEngine } from "../../../src/bark/engine/inProcess.ts"
import type { BarkModels } from "../../../src/bark/models.ts"
import { normalizeText } from "../../../src/bark/tokenizer.ts"
import { testEngineOptions, TinyEngine, tinyEngine } from "./tinyModel.ts"

const longText = "The quick brown fox jumps over the lazy dog. It was a  sunny day,\nand everyone was happy. " +
  "Then a very long sentence without any full stop runs on and on past the word budget of one chunk so that it has to be cut"

/** Counts every model call; `log` records the semantic model's calls in order. */
const counting = (models: BarkModels) => {
  const counts = { semantic: 0, coarse: 0, fine: 0, codec: 0 }
  const log: Array<{ readonly kind: "prefill" | "step"; readonly ids: Int32Array }> = []
  const wrapped: BarkModels = {
    semantic: {
      outputVocabSize: models.semantic.outputVocabSize,
      prefill: (ids, options) =>
        Effect.suspend(() => {
          counts.semantic++
          log.push({ kind: "prefill", ids: ids.slice() })
          return models.semantic.prefill(ids, options)
        }),
      step: (state, id) =>
        Effect.suspend(() => {
          counts.semantic++
          log.push({ kind: "step", ids: Int32Array.of(id) })
          return models.semantic.step(state, id)
        })
    },
    coarse: {
      outputVocabSize: models.coarse.outputVocabSize,
      prefill: (ids, options) => Effect.suspend(() => (counts.coarse++, models.coarse.prefill(ids, options))),
      step: (state, id) => Effect.suspend(() => (counts.coarse++, models.coarse.step(state, id)))
    },
    fine: { ...models.fine, run: (codes, k) => Effect.suspend(() => (counts.fine++, models.fine.run(codes, k))) },
    codec: { ...models.codec, decode: (codes, frames) => Effect.suspend(() => (counts.codec++, models.codec.decode(codes, frames))) }
  }
  return { wrapped, counts, log }
}


const samples = (chunks: ReadonlyArray<AudioChunk>) => chunks.reduce((n, c) => n + c.audio.length, 0)

describe("makeBarkEngine", () => {
  layer(tinyEngine, { timeout: 60_000, excludeTestServices: true })((it) => {
    it.effect("splits long text into chunks that concatenate back to the normalised text", () =>
      Effect.gen(function*() {
        const { engine } = yield* TinyEngine
        const chunks = yield* Stream.runCollect(engine.stream(longText, { voice: "v2/en_speaker_0", seed: 3 }))
        assert.isAbove(chunks.length, 2)
        assert.deepStrictEqual(chunks.map((c) => c.index), chunks.map((_, i) => i))
        assert.strictEqual(chunks.map((c) => c.text).join(" "), normalizeText(longText))
        assert.isTrue(chunks.some((c) => c.splitSentence), "the run-on sentence is cut at word boundaries")
        assert.isFalse(chunks[0]!.splitSentence)
        // later chunks start with the 0.25 s pause
        const gap = 0.25 * engine.sampleRate
        assert.isTrue(chunks[1]!.audio.subarray(0, gap).every((x) => x === 0))
        assert.isFalse(chunks[0]!.audio.subarray(0, gap).every((x) => x === 0))

        const whole = yield* engine.synthesize(longText, { voice: "v2/en_speaker_0", seed: 3 })
        assert.strictEqual(whole.audio.length, samples(chunks))
        assert.deepStrictEqual(whole.chunks.map((c) => c.samples), chunks.map((c) => c.audio.length))
        assert.strictEqual(whole.seed, 3)
        assert.strictEqual(whole.sampleRate, 24_000)
      }))

    it.effect("gives the same audio for the same seed, other audio for another, and reports a seed it picked", () =>
      Effect.gen(function*() {
        const { engine } = yield* TinyEngine
        const text = "Hello there, how are you?"
        const a = yield* engine.synthesize(text, { seed: 7 })
        const b = yield* engine.synthesize(text, { seed: 7 })
        const c = yield* engine.synthesize(text, { seed: 8 })
        assert.deepStrictEqual(b.audio, a.audio)
        assert.notDeepEqual(c.audio, a.audio)
        const picked = yield* engine.synthesize(text)
        assert.isNumber(picked.seed)
        assert.deepStrictEqual((yield* engine.synthesize(text, { seed: picked.seed! })).audio, picked.audio)
      }))

    it.effect("is deterministic with the argmax sampler", () =>
      Effect.gen(function*() {
        const { engine } = yield* TinyEngine
        const a = yield* engine.synthesize("Hello there.", { sampler: "argmax", voice: "v2/en_speaker_1" })
        const b = yield* engine.synthesize("Hello there.", { sampler: "argmax", voice: "v2/en_speaker_1" })
        assert.isUndefined(a.seed)
        assert.deepStrictEqual(b.audio, a.audio)
        assert.isAbove(a.audio.length, 0)
      }))

    it.effect("rejects an unknown voice, listing the available ones", () =>
      Effect.gen(function*() {
        const { engine } = yield* TinyEngine
        assert.deepStrictEqual(engine.voices, ["v2/en_speaker_0", "v2/en_speaker_1"])
        const error = yield* Effect.flip(engine.synthesize("Hello.", { voice: "v2/xx_speaker_9" }))
        assert.strictEqual(error._tag, "SynthesisError")
        assert.strictEqual(error.reason, "unknown-voice")
        assert.include(error.message, "v2/en_speaker_0, v2/en_speaker_1")
        assert.isNotEmpty(error.remediation)
      }))

    it.effect("rejects empty text, bad temperatures, seeds and samplers before generating", () =>
      Effect.gen(function*() {
        const { engine } = yield* TinyEngine
        const cases = [
          ["", {}],
          [" \n\t ", {}],
          ["Hi.", { temperatures: { semantic: 0 } }],
          ["Hi.", { temperatures: { coarse: Number.NaN } }],
          ["Hi.", { temperatures: { fine: -1 } }],
          ["Hi.", { seed: 1.5 }],
          ["Hi.", { seed: -1 }],
          ["Hi.", { sampler: "beam" as "argmax" }]
        ] as const
        for (const [text, options] of cases) {
          const error = yield* Effect.flip(engine.synthesize(text, options))
          assert.strictEqual(error.reason, "invalid-input", JSON.stringify(options))
          assert.isNotEmpty(error.remediation)
        }
      }))

    it.effect("reports token progress per chunk and stage", () =>
      Effect.gen(function*() {
        const { engine } = yield* TinyEngine
        const seen: Array<SynthesisProgress> = []
        const out = yield* engine.synthesize("One two three. Four five six seven eight nine ten eleven.", {
          seed: 1,
          onProgress: (p) => Effect.sync(() => void seen.push(p))
        })
        const chunks = out.chunks.length
        assert.strictEqual(chunks, 2)
        for (let chunk = 0; chunk < chunks; chunk++) {
          const stages = seen.filter((p) => p.chunk === chunk).map((p) => p.stage)
          assert.deepStrictEqual([...new Set(stages)], ["semantic", "coarse", "fine", "codec"])
        }
        assert.isTrue(seen.every((p) => p.chunks === chunks && p.done <= p.total && p.done > 0))
      }))

    it.effect("carries each chunk's tokens into the next chunk's history when asked", () =>
      Effect.gen(function*() {
        const { dir, models } = yield* TinyEngine
        const text = "One two three four five six. Seven eight nine ten eleven."
        const historyField = (carry: boolean) =>
          Effect.gen(function*() {
            const { wrapped, log } = counting(models)
            const engine = yield* makeBarkEngine(wrapped, dir, testEngineOptions)
            yield* engine.synthesize(text, { seed: 2, voice: "v2/en_speaker_0", carryHistory: carry })
            const prefills = log.flatMap((c, i) => (c.kind === "prefill" ? [i] : []))
            assert.strictEqual(prefills.length, 2)
            const chunk1Steps = log.slice(prefills[0]! + 1, prefills[1]!).map((c) => c.ids[0]!)
            return { first: log[prefills[0]!]!.ids.subarray(256, 512), second: log[prefills[1]!]!.ids.subarray(256, 512), chunk1Steps }
          })
        const plain = yield* historyField(false)
        assert.deepStrictEqual(plain.second, plain.first)
        const carried = yield* historyField(true)
        assert.deepStrictEqual(carried.first, plain.first)
        // the fed-back tokens of chunk 1 are the start of chunk 2's history
        assert.deepStrictEqual(Array.from(carried.second.subarray(0, carried.chunk1Steps.length)), carried.chunk1Steps)
      }))

    it.effect("stops calling the models promptly when the stream is interrupted", () =>
      Effect.gen(function*() {
        const { dir, models } = yield* TinyEngine
        const { wrapped, counts } = counting(models)
        const engine = yield* makeBarkEngine(wrapped, dir, testEngineOptions)
        const midway = yield* Deferred.make<void>()
        const fiber = yield* engine.stream(longText, {
          seed: 1,
          onProgress: (p) => (p.stage === "semantic" && p.done === 5 ? Deferred.succeed(midway, undefined) : Effect.void)
        }).pipe(Stream.runDrain, Effect.forkChild)
        yield* Deferred.await(midway)
        yield* Fiber.interrupt(fiber)
        const after = { ...counts }
        assert.isAtMost(after.semantic, 6, "the semantic loop stopped within a token")
        assert.deepStrictEqual([after.coarse, after.fine, after.codec], [0, 0, 0])
        yield* Effect.sleep("100 millis")
        assert.deepStrictEqual(counts, after)

        // taking only the first chunk generates no further chunk
        const { wrapped: once, counts: onceCounts } = counting(models)
        const first = yield* makeBarkEngine(once, dir, testEngineOptions)
        yield* first.stream(longText, { seed: 1 }).pipe(Stream.take(1), Stream.runDrain)
        assert.strictEqual(onceCounts.codec, 1)
      }))
  })
})
