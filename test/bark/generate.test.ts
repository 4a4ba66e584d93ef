import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { generateAudio, type GenerationStage } from "../../src/bark/generate/generate.ts"
import { argmax } from "../../src/bark/generate/sampling.ts"
import type { BarkModels } from "../../src/bark/models.ts"
import { makeTokenizer } from "../../src/bark/tokenizer.ts"
import { fakeCausalLM, fakeCodec, fakeFineLM } from "./fakeModels.ts"

/**
 * Semantic: `length` tokens (value = 100 + index), then EOS. Coarse and fine:
 * nearly flat logits, so a multinomial sampler's draws show in the output.
 */
const models = (length: number) => {
  const semantic = fakeCausalLM(10_048, (seq, logits) => {
    const n = seq.length - 513
    logits[n < length ? 100 + n : 10_000] = 20
  })
  const coarse = fakeCausalLM(12_096, (seq, logits) => {
    logits[10_000 + (seq.length % 1024)] = 0.5
    logits[11_024 + (seq.length % 1024)] = 0.5
  })
  const fine = fakeFineLM((codes, r, _, row) => void (row[(codes[r * 8]! + r) % 1024] = 0.5))
  const all: BarkModels = { semantic: semantic.model, coarse: coarse.model, fine: fine.model, codec: fakeCodec(4) }
  return { all, semantic, coarse, fine }
}

describe("generateAudio", () => {
  it.effect("chains semantic → coarse → fine → codec", () =>
    Effect.gen(function*() {
      const m = models(10)
      const progress: Array<GenerationStage> = []
      const out = yield* generateAudio(m.all, { textIds: [5, 6] }, {
        sampler: argmax,
        fine: { temp: null },
        onProgress: (stage) => Effect.sync(() => void (progress.at(-1) !== stage && progress.push(stage)))
      })
      assert.deepStrictEqual(Array.from(out.semantic.tokens), Array.from({ length: 10 }, (_, i) => 100 + i))
      assert.strictEqual(out.semantic.stop, "eos")
      // the coarse model reads the semantic tokens, the fine model the coarse codes, the codec the fine codes
      assert.deepStrictEqual(Array.from(m.coarse.calls[0]!.ids.subarray(0, 10)), Array.from(out.semantic.tokens))
      assert.strictEqual(out.coarse.frames, 15)
      assert.strictEqual(m.fine.calls[0]!.codes[8 * 3], out.coarse.data[3])
      assert.deepStrictEqual(Array.from(out.fine.data.subarray(0, 30)), Array.from(out.coarse.data))
      assert.strictEqual(out.audio.length, 15 * 4)
      assert.strictEqual(out.audio[4 * 7], out.fine.data[7]! / 1024)
      assert.strictEqual(out.sampleRate, 24_000)
      assert.deepStrictEqual(progress, ["semantic", "coarse", "fine", "codec"])
    }))

  it.effect("encodes normalised text with the tokenizer, and rejects blank text", () =>
    Effect.gen(function*() {
      const tokenizer = yield* makeTokenizer(["[UNK]", "hi", "there"].join("\n"))
      const m = models(2)
      const out = yield* generateAudio(m.all, { text: "  hi \n there ", tokenizer }, { sampler: argmax })
      assert.deepStrictEqual(Array.from(out.textIds), [1, 2])
      assert.deepStrictEqual(Array.from(m.semantic.calls[0]!.ids.subarray(0, 3)), [10_049, 10_050, 129_595])
      const error = yield* Effect.flip(generateAudio(m.all, { text: " \t ", tokenizer }))
      assert.strictEqual(error._tag, "GenerationInputError")
    }))

  it.effect("is reproducible for a seed and varies with it", () =>
    Effect.gen(function*() {
      const run = (seed: number) => Effect.map(generateAudio(models(20).all, { textIds: [1] }, { seed }), (o) => Array.from(o.fine.data))
      const a = yield* run(1)
      assert.deepStrictEqual(yield* run(1), a)
      assert.notDeepEqual(yield* run(2), a)
    }))

  it.effect("fails clearly when the semantic stage emits nothing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(generateAudio(models(0).all, { textIds: [1] }, { sampler: argmax }))
      assert.strictEqual(error._tag, "GenerationInputError")
      assert.include(error.message, "before its first token")
    }))
})
