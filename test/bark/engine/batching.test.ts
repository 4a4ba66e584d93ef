/**
 * The engine with BARK_MAX_BATCH above 1: several requests, and the chunks of
 * a long text, decoded together in one running batch per causal model, each
 * with the audio it gets alone.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { type SynthesisProgress, synthesizeMany } from "../../../src/bark/engine/BarkEngine.ts"
import { makeBarkEngine } from "../../../src/bark/engine/inProcess.ts"
import { openModelDir } from "../../../src/bark/engine/openModelDir.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import { testOwnDir } from "./convertedModel.ts"
import { testEngineOptions, tinyModelDir } from "./tinyModel.ts"

const env = Layer.mergeAll(NodeServices.layer, InferenceBackend.cpu({ intraOpNumThreads: 2 }))

/** Two engines on the same tiny model's sessions: one decoding alone, one batching up to 4 sequences. */
const engines = Effect.gen(function*() {
  const dir = yield* tinyModelDir
  const models = yield* openModelDir(dir, { ownDir: yield* testOwnDir(dir) })
  return {
    alone: yield* makeBarkEngine(models, dir, testEngineOptions),
    batched: yield* makeBarkEngine(models, dir, { ...testEngineOptions, maxBatch: 4 })
  }
})

const LONG = "The first chunk is this one right here. The second chunk follows it here now. And then a third chunk closes the text."

describe("an engine that batches", () => {
  it.effect("synthesizeMany and long texts: the same audio as one by one, from shared steps", () =>
    Effect.scoped(Effect.gen(function*() {
      const { alone, batched } = yield* engines
      const requests = [
        { text: "Hello there.", options: { seed: 1, voice: "v2/en_speaker_0" } },
        { text: LONG, options: { seed: 2 } },
        { text: "A third request, greedy.", options: { sampler: "argmax" as const, voice: "v2/en_speaker_1" } }
      ]
      const expected = yield* Effect.forEach(requests, (r) => alone.synthesize(r.text, r.options))
      expect(expected[1]!.chunks.length).toBe(3)
      const batches: Array<number> = []
      const onProgress = (p: SynthesisProgress) => Effect.sync(() => p.batch !== undefined && batches.push(p.batch))
      const together = yield* synthesizeMany(batched, requests, { onProgress })
      for (const [i, result] of together.entries()) expect(Array.from(result.audio)).toEqual(Array.from(expected[i]!.audio))
      expect(Math.max(...batches)).toBeGreaterThanOrEqual(3) // the three requests' chunks shared steps

      // A long text alone: its chunks go into the batch together; with history carry-over, one after another.
      batches.length = 0
      const long = yield* batched.synthesize(LONG, { seed: 2, onProgress })
      expect(Array.from(long.audio)).toEqual(Array.from(expected[1]!.audio))
      expect(Math.max(...batches)).toBe(3)
      batches.length = 0
      const carried = yield* batched.synthesize(LONG, { seed: 2, carryHistory: true, onProgress })
      expect(Array.from(carried.audio)).toEqual(Array.from((yield* alone.synthesize(LONG, { seed: 2, carryHistory: true })).audio))
      expect(Math.max(...batches)).toBe(1)
    })).pipe(Effect.provide(env)), 120_000)

  it.effect("a request interrupted mid-batch leaves; the others finish with their own audio", () =>
    Effect.scoped(Effect.gen(function*() {
      const { alone, batched } = yield* engines
      const expected = yield* alone.synthesize(LONG, { seed: 5 })
      const inBatch = yield* Deferred.make<void>()
      const keep = yield* Effect.forkChild(batched.synthesize(LONG, { seed: 5 }))
      const doomed = yield* Effect.forkChild(batched.synthesize(LONG, {
        seed: 6,
        onProgress: (p) => (p.batch ?? 0) > 1 ? Deferred.succeed(inBatch, undefined).pipe(Effect.asVoid) : Effect.void
      }))
      yield* Deferred.await(inBatch)
      yield* Fiber.interrupt(doomed)
      expect(Array.from((yield* Fiber.join(keep)).audio)).toEqual(Array.from(expected.audio))
    })).pipe(Effect.provide(env)), 120_000)
})
