import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { coarseHistory, coarseSteps, generateCoarse } from "../../src/bark/generate/coarse.ts"
import { makeCodes } from "../../src/bark/generate/Codes.ts"
import { roundHalfEven } from "../../src/bark/generate/roundHalfEven.ts"
import { argmax } from "../../src/bark/generate/sampling.ts"
import type { VoicePrompt } from "../../src/bark/generate/VoicePrompt.ts"
import { fakeCausalLM } from "./fakeModels.ts"

const VOCAB = 12_096

/**
 * Greedy model: the code it picks depends on how many coarse ids follow the
 * infer token, so outputs show the codebook alternation and offsets. Ids
 * outside the current codebook's window get a higher logit, which a correct
 * mask must ignore.
 */
const alternating = (sequence: ReadonlyArray<number>, logits: Float32Array) => {
  logits[sequence.length % 10_000] = 100
  logits.fill(50, 12_048, 12_096)
  logits[10_000 + (sequence.length % 1024)] = 10
  logits[11_024 + ((sequence.length * 3) % 1024)] = 10
}

/** A voice whose coarse codes say where they came from: codebook k, frame t → (t * 2 + k) % 1024. */
const voice = (semanticLength: number, frames: number): VoicePrompt => {
  const coarse = makeCodes(2, frames)
  for (let k = 0; k < 2; k++) for (let t = 0; t < frames; t++) coarse.data[k * frames + t] = (t * 2 + k) % 1024
  return {
    semantic: Int32Array.from({ length: semanticLength }, (_, i) => 5000 + i),
    coarse,
    fine: makeCodes(8, frames)
  }
}

describe("roundHalfEven", () => {
  it("rounds .5 ties to the even neighbour like Python's round", () => {
    assert.deepStrictEqual([0.5, 1.5, 2.5, 3.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfEven), [0, 2, 2, 4, -2, -2, 2, 3])
    assert.strictEqual(Object.is(roundHalfEven(-0.4), -0), true)
  })
})

describe("coarseSteps", () => {
  it("is twice the whole frames of 75/49.9 per semantic token", () => {
    assert.strictEqual(coarseSteps(100), 300)
    assert.strictEqual(coarseSteps(45), 134) // the golden e2e run: 67 frames
    assert.strictEqual(coarseSteps(470), 1412) // the golden voice run: 706 frames
    assert.strictEqual(coarseSteps(1), 2)
  })
})

describe("coarseHistory", () => {
  it("keeps 209 semantic tokens and the 628 coarse ids that go with them, minus the last two", () => {
    const prompt = voice(309, 464)
    const { semantic, coarse } = coarseHistory(prompt, 630)
    assert.strictEqual(semantic.length, 209)
    assert.strictEqual(semantic[0], 5000 + 100)
    assert.strictEqual(coarse.length, 626)
    // the flat prompt is 928 ids; the history is ids 300..925 of it
    assert.strictEqual(coarse[0], 10_000 + 300) // frame 150, codebook 0
    assert.strictEqual(coarse[1], 10_000 + 1024 + 301) // codebook 1 carries +1024
    assert.strictEqual(coarse[625], 11_024 + ((462 * 2 + 1) % 1024)) // frame 462, codebook 1
  })

  it("bounds the history by the coarse prompt and an even semantic length", () => {
    const { semantic, coarse } = coarseHistory(voice(101, 60), 630)
    // floor(120 / 3.006) = 39 < 100
    assert.strictEqual(semantic.length, 39)
    assert.strictEqual(coarse.length, roundHalfEven(39 * 3.006012024048096) - 2)
    assert.strictEqual(coarseHistory(voice(101, 152), 630).semantic.length, 100)
  })
})

describe("generateCoarse", () => {
  it.effect("runs 60-token windows (100 tokens, no voice): each later window continues the last one's cache with the context a prefill would get", () =>
    Effect.gen(function*() {
      const seen: Array<ReadonlyArray<number>> = []
      const { model, calls } = fakeCausalLM(VOCAB, (sequence, logits) => {
        seen.push(sequence)
        alternating(sequence, logits)
      })
      const semantic = Int32Array.from({ length: 100 }, (_, i) => i * 3)
      const codes = yield* generateCoarse(model, semantic, { sampler: argmax })
      assert.strictEqual(codes.rows, 2)
      assert.strictEqual(codes.frames, 150)
      const prefills = calls.filter((c) => c.kind === "prefill")
      assert.deepStrictEqual(prefills.map((c) => c.ids.length), [257])
      assert.deepStrictEqual(Array.from(prefills[0]!.ids.subarray(0, 100)), Array.from(semantic))
      assert.isTrue(prefills[0]!.ids.subarray(100, 256).every((v) => v === 12_048))
      assert.strictEqual(prefills[0]!.ids[256], 12_050)
      assert.isFalse(prefills[0]!.mergeContext)
      assert.strictEqual(calls.length, 300) // one model call per token
      // The ids generated, with their codebook offsets, in order.
      const generated = Array.from({ length: 300 }, (_, s) =>
        s % 2 === 0 ? 10_000 + codes.data[s / 2]! : 11_024 + codes.data[150 + (s - 1) / 2]!)
      // Windows 2..5 start (calls 60, 120, …) with one step whose whole sequence is the fresh context of
      // suno's algorithm: the semantic field, the infer token and every coarse id so far.
      for (const start of [60, 120, 180, 240]) {
        assert.strictEqual(calls[start]!.kind, "step")
        const sequence = seen[start]!
        assert.strictEqual(sequence.length, 257 + start)
        assert.deepStrictEqual(sequence.slice(0, 257), Array.from(prefills[0]!.ids))
        assert.deepStrictEqual(sequence.slice(257), generated.slice(0, start))
      }
    }))

  it.effect("alternates codebooks: even steps from 10000..11023, odd from 11024..12047, offsets removed", () =>
    Effect.gen(function*() {
      const { model, calls } = fakeCausalLM(VOCAB, alternating)
      const codes = yield* generateCoarse(model, Int32Array.of(1, 2, 3), { sampler: argmax })
      // 3 tokens → 8 steps in one window; the sequence before step s has 257 + s ids
      assert.strictEqual(codes.frames, 4)
      for (let t = 0; t < 4; t++) {
        assert.strictEqual(codes.data[t], (257 + 2 * t) % 1024)
        assert.strictEqual(codes.data[4 + t], ((257 + 2 * t + 1) * 3) % 1024)
      }
      // ids fed back carry the offsets
      const fed = calls.filter((c) => c.kind === "step").map((c) => c.ids[0]!)
      assert.deepStrictEqual(fed.slice(0, 2), [10_000 + 257, 11_024 + ((258 * 3) % 1024)])
    }))

  it.effect("with a voice: history context, and semantic windows that start at round(step / R) − 209", () =>
    Effect.gen(function*() {
      const { model, calls } = fakeCausalLM(VOCAB, alternating)
      const prompt = voice(309, 464)
      const semantic = Int32Array.from({ length: 100 }, (_, i) => i)
      const codes = yield* generateCoarse(model, semantic, { sampler: argmax, history: prompt })
      assert.strictEqual(codes.frames, 150)
      const prefills = calls.filter((c) => c.kind === "prefill")
      assert.deepStrictEqual(prefills.map((c) => c.ids.length), [883, 887, 887, 887, 887])
      const history = coarseHistory(prompt, 630)
      const all = [...history.semantic, ...semantic]
      const expectedStarts = [0, 20, 40, 60, 80]
      prefills.forEach((p, w) => {
        const start = expectedStarts[w]!
        const field = all.slice(start, start + 256)
        assert.deepStrictEqual(Array.from(p.ids.subarray(0, field.length)), field)
        assert.isTrue(p.ids.subarray(field.length, 256).every((v) => v === 12_048))
      })
      // window 0's context is exactly the voice's coarse history
      assert.deepStrictEqual(Array.from(prefills[0]!.ids.subarray(257)), Array.from(history.coarse))
      // later windows keep the last 630 coarse ids, ending with the newest generated one
      const steps = calls.filter((c) => c.kind === "step")
      assert.strictEqual(prefills[1]!.ids.at(-2), steps[58]!.ids[0])
    }))

  it.effect("rejects what suno-ai/bark asserts against", () =>
    Effect.gen(function*() {
      const { model, calls } = fakeCausalLM(VOCAB, alternating)
      const one = Int32Array.of(1)
      const cases = [
        generateCoarse(model, new Int32Array(0), { sampler: argmax }),
        generateCoarse(model, Int32Array.of(10_000), { sampler: argmax }),
        generateCoarse(model, one, { sampler: argmax, maxCoarseHistory: 59 }),
        generateCoarse(model, one, { sampler: argmax, maxCoarseHistory: 630, slidingWindowLen: 139 }),
        generateCoarse(model, one, { sampler: argmax, temp: -1 })
      ]
      for (const effect of cases) assert.strictEqual((yield* Effect.flip(effect))._tag, "GenerationInputError")
      // a voice whose lengths do not match (1.5 frames per semantic token)
      const skewed = voice(100, 100)
      assert.strictEqual((yield* Effect.flip(generateCoarse(model, one, { sampler: argmax, history: skewed })))._tag, "InvalidVoicePrompt")
      assert.strictEqual(calls.length, 0)
    }))
})
