import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { makeCodes } from "../../src/bark/generate/Codes.ts"
import { argmax } from "../../src/bark/generate/sampling.ts"
import { generateSemantic, semanticInput } from "../../src/bark/generate/semantic.ts"
import type { VoicePrompt } from "../../src/bark/generate/VoicePrompt.ts"
import { fakeCausalLM } from "./fakeModels.ts"

const EOS = 10_000
const VOCAB = 10_048

/** Greedy model: token (7 + generated count) % 10 000, EOS far below. */
const counting = (sequence: ReadonlyArray<number>, logits: Float32Array) => {
  logits[(7 + sequence.length - 513) % 10_000] = 10
  logits[EOS] = -10
}

const voice = (semanticLength: number): VoicePrompt => {
  const frames = Math.round(semanticLength * 1.5)
  return {
    semantic: Int32Array.from({ length: semanticLength }, (_, i) => i % 10_000),
    coarse: makeCodes(2, frames),
    fine: makeCodes(8, frames)
  }
}

describe("semanticInput", () => {
  it("offsets and pads the text, left-aligns the last 256 history tokens, ends with the infer token", () => {
    const history = Int32Array.from({ length: 300 }, (_, i) => i)
    const ids = semanticInput([0, 5, 119_546], history)
    assert.strictEqual(ids.length, 513)
    assert.deepStrictEqual(Array.from(ids.subarray(0, 4)), [10_048, 10_053, 129_594, 129_595])
    assert.isTrue(ids.subarray(3, 256).every((v) => v === 129_595))
    assert.strictEqual(ids[256], 44) // history[300 - 256]
    assert.strictEqual(ids[511], 299)
    assert.strictEqual(ids[512], 129_599)

    const short = semanticInput([], Int32Array.of(9, 8))
    assert.deepStrictEqual(Array.from(short.subarray(256, 259)), [9, 8, EOS])
    assert.isTrue(short.subarray(258, 512).every((v) => v === EOS))
    assert.isTrue(semanticInput([1], undefined).subarray(256, 512).every((v) => v === EOS))
  })
})

describe("generateSemantic", () => {
  it.effect("prefills the merged context once, then steps with each sampled token", () =>
    Effect.gen(function*() {
      const { model, calls } = fakeCausalLM(VOCAB, (seq, logits) => {
        const n = seq.length - 513
        logits[n < 3 ? 100 + n : EOS] = 5
      })
      const result = yield* generateSemantic(model, [1, 2, 3], { sampler: argmax, history: voice(20) })
      assert.deepStrictEqual(Array.from(result.tokens), [100, 101, 102])
      assert.strictEqual(result.stop, "eos")
      assert.strictEqual(result.droppedTextIds, 0)
      assert.deepStrictEqual(calls.map((c) => c.kind), ["prefill", "step", "step", "step"])
      assert.isTrue(calls[0]!.mergeContext)
      assert.deepStrictEqual(Array.from(calls[0]!.ids), Array.from(semanticInput([1, 2, 3], voice(20).semantic)))
      assert.deepStrictEqual(calls.slice(1).map((c) => [c.ids[0], c.length]), [[100, 258], [101, 259], [102, 260]])
    }))

  it.effect("stops when EOS probability after temperature reaches min_eos_p (>=), without emitting EOS", () =>
    Effect.gen(function*() {
      // token 5 always wins the draw; EOS has logit 0 vs 2: p_eos = 1 / (1 + e^(2/temp))
      const model = fakeCausalLM(VOCAB, (_, logits) => {
        logits.fill(-Infinity, 0, 10_001)
        logits[5] = 2
        logits[EOS] = 0
      }).model
      const pEos = (temp: number) => Math.fround(1 / (1 + Math.exp(2 / temp)))
      const run = (minEosP: number | null, temp = 1) =>
        generateSemantic(model, [1], { sampler: argmax, minEosP, temp, maxGenDurationS: 0.1 })

      const atThreshold = yield* run(pEos(1))
      assert.strictEqual(atThreshold.stop, "min-eos-p")
      assert.strictEqual(atThreshold.tokens.length, 0)
      // one float32 step above the probability: no stop
      const above = yield* run(pEos(1) * (1 + 2 ** -20))
      assert.strictEqual(above.stop, "max-duration")
      // a lower temperature sharpens the distribution below the same threshold
      assert.strictEqual((yield* run(pEos(1), 0.5)).stop, "max-duration")
      assert.strictEqual((yield* run(null)).stop, "max-duration")
    }))

  it.effect("counts 1/49.9 s per appended token and keeps the token that crosses max_gen_duration_s", () =>
    Effect.gen(function*() {
      const model = fakeCausalLM(VOCAB, counting).model
      const a = yield* generateSemantic(model, [1], { sampler: argmax, maxGenDurationS: 0.1 })
      assert.strictEqual(a.tokens.length, 5) // 4 tokens = 0.0802 s, 5 = 0.1002 s
      assert.strictEqual(a.stop, "max-duration")
      // the golden run with a voice: 9.41 s ends at 470 tokens (469 = 9.399 s)
      const b = yield* generateSemantic(model, [1], { sampler: argmax, maxGenDurationS: 9.41 })
      assert.strictEqual(b.tokens.length, 470)
    }))

  it.effect("ends after 768 tokens, never stepping past the 1024-position context", () =>
    Effect.gen(function*() {
      const { model, calls } = fakeCausalLM(VOCAB, counting)
      const progress: Array<number> = []
      const result = yield* generateSemantic(model, [1], {
        sampler: argmax,
        onProgress: (done, total) => Effect.sync(() => progress.push(done / total))
      })
      assert.strictEqual(result.stop, "max-tokens")
      assert.strictEqual(result.tokens.length, 768)
      assert.strictEqual(result.tokens[767], (7 + 767) % 10_000)
      assert.strictEqual(calls.length, 768) // prefill + 767 steps
      assert.strictEqual(calls.at(-1)!.length, 1024)
      assert.strictEqual(progress.length, 768)
      assert.strictEqual(progress.at(-1), 1)
    }))

  it.effect("a sampled EOS stops; without early stop EOS is not even a candidate", () =>
    Effect.gen(function*() {
      const model = fakeCausalLM(VOCAB, (seq, logits) => {
        logits[EOS] = 9
        logits[42] = 8
      }).model
      const early = yield* generateSemantic(model, [1], { sampler: argmax, minEosP: null })
      assert.strictEqual(early.stop, "eos")
      assert.strictEqual(early.tokens.length, 0)
      const noStop = yield* generateSemantic(model, [1], { sampler: argmax, allowEarlyStop: false, maxGenDurationS: 0.05 })
      assert.deepStrictEqual(Array.from(noStop.tokens), [42, 42, 42])
      let candidates = 0
      yield* generateSemantic(model, [1], {
        allowEarlyStop: false,
        maxGenDurationS: 0,
        sampler: (p) => (candidates = p.length, 42)
      })
      assert.strictEqual(candidates, 10_000)
    }))

  it.effect("reads only the first 256 text ids and reports how many it dropped", () =>
    Effect.gen(function*() {
      const { model, calls } = fakeCausalLM(VOCAB, (_, logits) => void (logits[EOS] = 1))
      const ids = Array.from({ length: 300 }, (_, i) => i)
      const result = yield* generateSemantic(model, ids, { sampler: argmax })
      assert.strictEqual(result.droppedTextIds, 44)
      assert.strictEqual(calls[0]!.ids[255], 255 + 10_048)
    }))

  it.effect("rejects text ids outside the tokenizer range and invalid voices", () =>
    Effect.gen(function*() {
      const { model, calls } = fakeCausalLM(VOCAB, counting)
      const error = yield* Effect.flip(generateSemantic(model, [3, 119_547], { sampler: argmax }))
      assert.strictEqual(error._tag, "GenerationInputError")
      assert.include(error.message, "position 1")
      const bad = { ...voice(10), semantic: Int32Array.of(1, 10_000) }
      const voiceError = yield* Effect.flip(generateSemantic(model, [3], { sampler: argmax, history: bad }))
      assert.strictEqual(voiceError._tag, "InvalidVoicePrompt")
      assert.strictEqual(calls.length, 0)
    }))

  it.live("is interruptible between tokens", () =>
    Effect.gen(function*() {
      const { model, calls } = fakeCausalLM(VOCAB, counting)
      const started = yield* Deferred.make<void>()
      const fiber = yield* generateSemantic(model, [1], {
        sampler: argmax,
        onProgress: (done) => (done === 5 ? Deferred.succeed(started, undefined) : Effect.void)
      }).pipe(Effect.forkChild)
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.hasInterrupts(exit))
      assert.isBelow(calls.length, 100)
    }))
})
