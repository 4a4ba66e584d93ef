/**
 * Batched decoding gives each sequence exactly what it gets alone: the tiny
 * random Bark on real onnxruntime sessions (fp32, and q4 with its float16 KV
 * cache), semantic and coarse, greedy and seeded sampling, mixed lengths and
 * voices in one batch, a sequence joining mid-generation and one cancelled
 * mid-batch.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import * as Batch from "../../src/bark/generate/batch.ts"
import { coarseDecoding, generateCoarse } from "../../src/bark/generate/coarse.ts"
import { argmax, multinomial } from "../../src/bark/generate/sampling.ts"
import { generateSemantic, semanticDecoding, type SemanticOptions } from "../../src/bark/generate/semantic.ts"
import type { VoicePrompt } from "../../src/bark/generate/VoicePrompt.ts"
import { openModelDir } from "../../src/bark/engine/openModelDir.ts"
import type { BarkModels } from "../../src/bark/models.ts"
import { loadVoice } from "../../src/bark/voices.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"
import { tinyModelDir } from "./engine/tinyModel.ts"

const env = Layer.mergeAll(NodeServices.layer, InferenceBackend.cpu({ intraOpNumThreads: 2 }))

const textIds = (seed: number, length: number) => Int32Array.from({ length }, (_, i) => (seed * 7919 + i * 104_729) % 20_000)

/** Four sequences that differ in text, voice, sampler and length. */
const semanticCases = (voice: VoicePrompt): ReadonlyArray<{ readonly ids: Int32Array; readonly options: () => SemanticOptions }> => [
  { ids: textIds(1, 12), options: () => ({ sampler: argmax, maxGenDurationS: 0.3 }) },
  { ids: textIds(2, 30), options: () => ({ sampler: multinomial(7), maxGenDurationS: 0.6, history: voice }) },
  { ids: textIds(3, 5), options: () => ({ sampler: multinomial(8), maxGenDurationS: 0.2 }) },
  { ids: textIds(4, 20), options: () => ({ sampler: argmax, maxGenDurationS: 0.45, history: voice }) }
]

const withModels = <A, E>(dtype: "fp32" | "q4", use: (models: BarkModels, voice: VoicePrompt) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.gen(function*() {
    const dir = yield* tinyModelDir
    const models = yield* openModelDir(dir, { dtype, ownDir: `${dir}/.bark-pipeline` })
    return yield* use(models, yield* loadVoice(dir, "v2/en_speaker_0"))
  }))

describe("batched decoding", () => {
  for (const dtype of ["fp32", "q4"] as const) {
    it.effect(`semantic and coarse in one batch equal each sequence alone (${dtype})`, () =>
      withModels(dtype, (models, voice) =>
        Effect.gen(function*() {
          const cases = semanticCases(voice)
          const alone = yield* Effect.forEach(cases, (c) => generateSemantic(models.semantic, c.ids, c.options()))
          expect(new Set(alone.map((r) => r.tokens.length)).size).toBeGreaterThan(1) // mixed lengths
          const decodings = yield* Effect.forEach(cases, (c) => semanticDecoding(c.ids, c.options()))
          const together = yield* Batch.decodeAll(models.semantic, decodings, 4)
          expect(together.map((r) => Array.from(r.tokens))).toEqual(alone.map((r) => Array.from(r.tokens)))
          // Fewer places than sequences: the rest wait and join as places free up.
          const queued = yield* Batch.decodeAll(models.semantic, yield* Effect.forEach(cases, (c) => semanticDecoding(c.ids, c.options())), 2)
          expect(queued.map((r) => Array.from(r.tokens))).toEqual(alone.map((r) => Array.from(r.tokens)))

          const coarseOptions = (i: number) => ({ sampler: i % 2 === 0 ? argmax : multinomial(100 + i), ...(i === 1 ? { history: voice } : {}) })
          const coarseAlone = yield* Effect.forEach(alone, (r, i) => generateCoarse(models.coarse, r.tokens, coarseOptions(i)))
          const coarseTogether = yield* Batch.decodeAll(
            models.coarse,
            yield* Effect.forEach(alone, (r, i) => coarseDecoding(r.tokens, coarseOptions(i))),
            4
          )
          expect(coarseTogether.map((c) => Array.from(c.data))).toEqual(coarseAlone.map((c) => Array.from(c.data)))
        })
      ).pipe(Effect.provide(env)), 120_000)
  }

  it.effect("a sequence joins mid-generation and one is cancelled mid-batch; the others are unchanged", () =>
    withModels("fp32", (models, voice) =>
      Effect.scoped(Effect.gen(function*() {
        const cases = semanticCases(voice)
        const alone = yield* Effect.forEach(cases, (c) => generateSemantic(models.semantic, c.ids, c.options()))
        const steps: Array<number> = []
        const scheduler = yield* Batch.make(models.semantic, { maxBatch: 4, onStep: (n) => Effect.sync(() => steps.push(n)) })
        const tenTokens = yield* Deferred.make<void>()
        const first = (i: number) => ({
          ...cases[i]!.options(),
          onProgress: (done: number) => done === 10 ? Deferred.succeed(tenTokens, undefined).pipe(Effect.asVoid) : Effect.void
        })
        const a = yield* Effect.forkChild(Effect.flatMap(semanticDecoding(cases[1]!.ids, first(1)), scheduler.submit))
        const doomed = yield* Effect.forkChild(Effect.flatMap(semanticDecoding(cases[3]!.ids, cases[3]!.options()), scheduler.submit))
        yield* Deferred.await(tenTokens)
        // Joins while the others are ten tokens in.
        const late = yield* Effect.forkChild(Effect.flatMap(semanticDecoding(cases[0]!.ids, cases[0]!.options()), scheduler.submit))
        yield* Fiber.interrupt(doomed)
        const [ra, rl] = yield* Effect.all([Fiber.join(a), Fiber.join(late)])
        expect(Array.from(ra.tokens)).toEqual(Array.from(alone[1]!.tokens))
        expect(Array.from(rl.tokens)).toEqual(Array.from(alone[0]!.tokens))
        expect(Math.max(...steps)).toBeGreaterThanOrEqual(2) // they did share steps
        expect(scheduler.active()).toBe(0)
      }))
    ).pipe(Effect.provide(env)), 120_000)
})
