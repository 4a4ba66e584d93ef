import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type Codes, makeCodes } from "../../src/bark/generate/Codes.ts"
import { fineWindows, generateFine } from "../../src/bark/generate/fine.ts"
import { argmax } from "../../src/bark/generate/sampling.ts"
import type { VoicePrompt } from "../../src/bark/generate/VoicePrompt.ts"
import { fakeFineLM } from "./fakeModels.ts"

/**
 * Greedy fine model: codebook k of a row predicts (codebook k−1 of that row) + 1,
 * so a codebook only comes out right if the previous one was written first.
 * Columns 1024.. get the highest logit, which the stage must ignore.
 */
const chain = (codes: Int32Array, r: number, predIdx: number, row: Float32Array) => {
  row[(codes[r * 8 + predIdx - 1]! + 1) % 1024] = 5
  row[1030] = 9
}

const coarseCodes = (frames: number): Codes => {
  const codes = makeCodes(2, frames)
  for (let t = 0; t < frames; t++) {
    codes.data[t] = (t * 5) % 1024
    codes.data[frames + t] = (t * 11) % 1024
  }
  return codes
}

const voice = (frames: number): VoicePrompt => {
  const fine = makeCodes(8, frames, Int32Array.from({ length: 8 * frames }, (_, i) => (i * 13) % 1024))
  return {
    semantic: new Int32Array(Math.round(frames / 1.5)),
    coarse: makeCodes(2, frames, fine.data.slice(0, 2 * frames)),
    fine
  }
}

/** Codebook k of frame t under `chain`: codebook 1 plus (k − 1). */
const expectedChain = (coarse: Codes, k: number, t: number) =>
  k < 2 ? coarse.data[k * coarse.frames + t]! : (coarse.data[coarse.frames + t]! + k - 1) % 1024

describe("fineWindows", () => {
  it("matches the worked examples", () => {
    assert.deepStrictEqual(fineWindows(150, 0), [{ start: 0, fill: 0, rel: 0 }])
    assert.deepStrictEqual(fineWindows(150, 464), [{ start: 0, fill: 464, rel: 464 }])
    assert.deepStrictEqual(fineWindows(1500, 0), [{ start: 0, fill: 0, rel: 0 }, { start: 476, fill: 512, rel: 36 }])
    assert.deepStrictEqual(fineWindows(1052, 464), [{ start: 0, fill: 464, rel: 464 }, { start: 492, fill: 976, rel: 484 }])
    assert.deepStrictEqual(fineWindows(2048, 0).map((w) => w.start), [0, 512, 1024])
  })
})

describe("generateFine", () => {
  it.effect("fills codebooks 2..7 in order, each seeing the previous one (150 frames, no voice)", () =>
    Effect.gen(function*() {
      const { model, calls } = fakeFineLM(chain)
      const coarse = coarseCodes(150)
      const fine = yield* generateFine(model, coarse, { sampler: argmax, temp: null })
      assert.strictEqual(fine.rows, 8)
      assert.strictEqual(fine.frames, 150)
      assert.deepStrictEqual(calls.map((c) => c.predIdx), [2, 3, 4, 5, 6, 7])
      for (let k = 0; k < 8; k++) {
        for (let t = 0; t < 150; t += 37) assert.strictEqual(fine.data[k * 150 + t], expectedChain(coarse, k, t))
      }
      // the first pass sees the coarse codes, then pads (1024) everywhere else, right pad included
      const first = calls[0]!.codes
      assert.strictEqual(first.length, 1024 * 8)
      assert.strictEqual(first[10 * 8 + 1], coarse.data[150 + 10])
      assert.strictEqual(first[10 * 8 + 2], 1024)
      assert.strictEqual(first[900 * 8], 1024)
      // the pass for codebook 3 sees codebook 2's predictions
      assert.strictEqual(calls[1]!.codes[10 * 8 + 2], expectedChain(coarse, 2, 10))
      assert.strictEqual(calls[1]!.codes[10 * 8 + 3], 1024)
    }))

  it.effect("two windows for 1500 frames: the second starts at 476 and rewrites from frame 512", () =>
    Effect.gen(function*() {
      const writes: Array<[number, number]> = []
      const { model, calls } = fakeFineLM((codes, r, predIdx, row) => {
        chain(codes, r, predIdx, row)
        if (predIdx === 2 && r === 0) writes.push([codes[0]!, codes[1]!])
      })
      const coarse = coarseCodes(1500)
      const fine = yield* generateFine(model, coarse, { sampler: argmax, temp: null })
      assert.strictEqual(calls.length, 12)
      assert.deepStrictEqual(writes, [[0, 0], [coarse.data[476]!, coarse.data[1500 + 476]!]])
      // the second window's context before rel = 36 already holds the first window's codebook 2
      assert.strictEqual(calls[6]!.codes[0 * 8 + 2], expectedChain(coarse, 2, 476))
      for (const t of [0, 511, 512, 1499]) {
        for (let k = 0; k < 8; k++) assert.strictEqual(fine.data[k * 1500 + t], expectedChain(coarse, k, t))
      }
    }))

  it.effect("with a voice: the last 512 history frames lead the window and are left out of the result", () =>
    Effect.gen(function*() {
      const { model, calls } = fakeFineLM(chain)
      const prompt = voice(600)
      const coarse = coarseCodes(150)
      const progress: Array<string> = []
      const fine = yield* generateFine(model, coarse, {
        sampler: argmax,
        temp: null,
        history: prompt,
        onProgress: (done, total) => Effect.sync(() => progress.push(`${done}/${total}`))
      })
      assert.strictEqual(fine.frames, 150)
      const first = calls[0]!.codes
      // frame 0 of the window is history frame 600 − 512 = 88, all 8 codebooks
      for (let k = 0; k < 8; k++) assert.strictEqual(first[k], prompt.fine.data[k * 600 + 88])
      assert.strictEqual(first[512 * 8], coarse.data[0])
      // history rows keep their codes through every pass
      assert.strictEqual(calls[5]!.codes[511 * 8 + 7], prompt.fine.data[7 * 600 + 599])
      for (let k = 0; k < 8; k++) assert.strictEqual(fine.data[k * 150 + 149], expectedChain(coarse, k, 149))
      assert.deepStrictEqual(progress, ["1/6", "2/6", "3/6", "4/6", "5/6", "6/6"])
    }))

  it.effect("samples softmax(logits / temp) over the 1024 codes of each filled row", () =>
    Effect.gen(function*() {
      const { model } = fakeFineLM((_, r, __, row) => {
        row[r % 1024] = 1
        row[1040] = 50
      })
      const draws: Array<Float32Array> = []
      const fine = yield* generateFine(model, coarseCodes(3), {
        temp: 0.5,
        sampler: (p) => (draws.push(p.slice()), 1023)
      })
      assert.strictEqual(draws.length, 6 * 1024)
      const p = draws[1]! // row 1 of codebook 2
      assert.strictEqual(p.length, 1024)
      assert.closeTo(p[1]! / p[0]!, Math.exp(2), 1e-4)
      assert.isTrue(fine.data.subarray(2 * 3).every((v) => v === 1023))
    }))

  it.effect("rejects codes outside 0..1023 and wrong shapes", () =>
    Effect.gen(function*() {
      const { model, calls } = fakeFineLM(chain)
      const bad = coarseCodes(4)
      bad.data[3] = 1024
      for (const coarse of [bad, makeCodes(8, 4), makeCodes(2, 0)]) {
        assert.strictEqual((yield* Effect.flip(generateFine(model, coarse, { sampler: argmax })))._tag, "GenerationInputError")
      }
      assert.strictEqual(calls.length, 0)
    }))
})
