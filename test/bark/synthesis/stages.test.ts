/**
 * The synthesis stages against steps the test controls (a `BarkSteps` of
 * its own: no models), so that every condition can be made: each warning
 * fires in its condition and only then, a fatal stage stops the request with
 * its remediation, and a test replaces the fine stage and the codec with
 * mocked layers and sees what the runner records.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import type { SynthesisOptions } from "../../../src/bark/engine/BarkEngine.ts"
import { makeCodes } from "../../../src/bark/generate/Codes.ts"
import type { SemanticStop } from "../../../src/bark/generate/semantic.ts"
import { BarkSteps } from "../../../src/bark/synthesis/BarkSteps.ts"
import * as Recipes from "../../../src/bark/synthesis/recipes.ts"
import * as Synthesis from "../../../src/bark/synthesis/run.ts"
import { AudioCacheStore, ChunkAudio, CoarseCodes, FineCodes } from "../../../src/bark/synthesis/services.ts"
import * as SynthesisRecipe from "../../../src/bark/synthesis/SynthesisRecipe.ts"
import * as Stage from "../../../src/pipeline/Stage.ts"
import type { StageResult } from "../../../src/pipeline/StageResult.ts"
import type { TraceEvent } from "../../../src/pipeline/TraceEvent.ts"

const HOP = 320

interface Script {
  /** Text ids per chunk text (default: one id per word). */
  readonly ids?: (text: string) => Int32Array
  readonly semantic?: { readonly tokens: number; readonly stop: SemanticStop }
}

/** Steps whose outputs follow `script`; counts the calls of each step. */
const scripted = (script: Script = {}) => {
  const calls = { semantic: 0, coarse: 0, fine: 0, codec: 0 }
  const semantic = script.semantic ?? { tokens: 20, stop: "eos" as const }
  const steps = BarkSteps.of({
    sampleRate: 24_000,
    voices: [],
    tokenizer: {
      vocabSize: 100,
      tokenize: (text) => text.split(" "),
      encode: script.ids ?? ((text) => new Int32Array(text.split(" ").length))
    },
    voice: () => Effect.die("no voices"),
    semantic: ({ sampler }) =>
      Effect.sync(() => (calls.semantic++, { value: { tokens: new Int32Array(semantic.tokens), stop: semantic.stop, droppedTextIds: 0 }, sampler })),
    coarse: ({ semantic, sampler }) => Effect.sync(() => (calls.coarse++, { value: makeCodes(2, Math.ceil(semantic.length * 1.5)), sampler })),
    fine: ({ coarse, sampler }) => Effect.sync(() => (calls.fine++, { value: makeCodes(8, coarse.frames), sampler })),
    codec: (codes) => Effect.sync(() => (calls.codec++, new Float32Array(codes.frames * HOP).fill(0.1)))
  })
  return { steps, calls }
}

const run = (recipe: SynthesisRecipe.SynthesisRecipe<AudioCacheStore>, steps: BarkSteps["Service"], text: string, options: SynthesisOptions = {}) =>
  Effect.gen(function*() {
    const events: Array<TraceEvent> = []
    const onTrace = (event: TraceEvent) => Effect.sync(() => void events.push(event))
    const exit = yield* Stream.runCollect(Synthesis.stream(recipe, text, { seed: 1, ...options, onTrace }, {
      concurrency: 1,
      silenceSeconds: 0.25,
      split: { maxWords: 10 },
      generation: {}
    })).pipe(
      Effect.provideService(BarkSteps, steps),
      Effect.provideService(AudioCacheStore, AudioCacheStore.of({ model: "test", revision: null, dtype: "fp32", cache: undefined })),
      Effect.exit
    )
    const results = events.flatMap((e) => e.type === "stage-finished" ? [e.result] : [])
    return { exit, results }
  }).pipe(Effect.provide(NodeServices.layer))

const only = (results: ReadonlyArray<StageResult>, stage: string) => {
  const found = results.filter((r) => r.stage === stage)
  assert.lengthOf(found, 1, `one ${stage} result`)
  return found[0]!
}

describe("synthesis stages", () => {
  it.effect("semantic: no warning when it stops at EOS; a warning when it runs into the cap", () =>
    Effect.gen(function*() {
      const eos = yield* run(Recipes.synthesis, scripted({ semantic: { tokens: 30, stop: "eos" } }).steps, "Hello there.")
      assert.strictEqual(only(eos.results, "semantic").outcome, "succeeded")
      assert.strictEqual(only(eos.results, "semantic").metadata["eosStep"], 30)
      for (const stop of ["max-duration", "max-tokens"] as const) {
        const capped = yield* run(Recipes.synthesis, scripted({ semantic: { tokens: 768, stop } }).steps, "Hello there.")
        const semantic = only(capped.results, "semantic")
        assert.strictEqual(semantic.outcome, "warned", stop)
        assert.include(semantic.warnings[0]!.message, "length cap")
        assert.isUndefined(semantic.metadata["eosStep"])
      }
    }))

  it.effect("semantic: no token at all stops the request with what to do", () =>
    Effect.gen(function*() {
      const { steps, calls } = scripted({ semantic: { tokens: 0, stop: "eos" } })
      const { exit, results } = yield* run(Recipes.synthesis, steps, "Hello there.")
      assert.isTrue(exit._tag === "Failure")
      const semantic = only(results, "semantic")
      assert.strictEqual(semantic.outcome, "failed")
      assert.include(semantic.error!.remediation, "min_eos_p")
      assert.strictEqual(only(results, "coarse").outcome, "not-run")
      assert.strictEqual(calls.coarse, 0)
    }))

  it.effect("tokenize: a warning past 256 text tokens, none at 256", () =>
    Effect.gen(function*() {
      // the tokenizer counts 128 (or 150) ids per word: the split keeps each word a chunk of its own
      const perWord = (n: number) => (text: string) => new Int32Array(n * text.split(" ").length)
      const at = yield* run(Recipes.synthesis, scripted({ ids: perWord(128) }).steps, "Hello there, friend.")
      const fits = at.results.filter((r) => r.stage === "tokenize")
      assert.isNotEmpty(fits)
      assert.isTrue(fits.every((r) => r.outcome === "succeeded" && (r.metadata["tokens"] as number) <= 256))
      const over = yield* run(Recipes.synthesis, scripted({ ids: () => new Int32Array(300) }).steps, "Hello.")
      const tokenize = only(over.results, "tokenize")
      assert.strictEqual(tokenize.outcome, "warned")
      assert.include(tokenize.warnings[0]!.message, "last 44 are not spoken")
    }))

  it.effect("normalize-text: writes numbers and currency out, and is skipped with BARK_TEXT_NORMALIZER=off", () =>
    Effect.gen(function*() {
      const normalized = yield* run(Recipes.synthesis, scripted().steps, "It costs $5.")
      assert.isTrue(normalized.exit._tag === "Success")
      const chunks = normalized.exit._tag === "Success" ? normalized.exit.value : []
      assert.strictEqual(chunks[0]!.text, "It costs five dollars.")
      assert.isAbove(only(normalized.results, "normalize-text").metadata["changes"] as number, 0)
      const asWritten = yield* run(SynthesisRecipe.withConfig(Recipes.synthesis, { BARK_TEXT_NORMALIZER: "off" }), scripted().steps, "It costs $5.")
      assert.strictEqual(only(asWritten.results, "normalize-text").outcome, "skipped")
      assert.strictEqual(asWritten.exit._tag === "Success" ? asWritten.exit.value[0]!.text : "", "It costs $5.")
    }))

  it.effect("a test replaces the fine stage and the codec with mocked layers; the runner records them, the real steps are not called", () =>
    Effect.gen(function*() {
      const mockFine = Stage.fromLayer({
        name: "fine",
        purpose: "mock: the coarse codebooks padded to eight",
        provides: FineCodes,
        needs: [CoarseCodes],
        layer: Layer.effect(FineCodes, CoarseCodes.useSync(({ codes, sampler }) => FineCodes.of({ codes: makeCodes(8, codes.frames), sampler })))
      })
      const mockCodec = Stage.fromLayer({
        name: "codec",
        purpose: "mock: silence of the right length",
        provides: ChunkAudio,
        needs: [FineCodes],
        layer: Layer.effect(ChunkAudio, FineCodes.useSync(({ codes }) => ChunkAudio.of({ audio: new Float32Array(codes.frames * HOP) })))
      })
      const recipe = Recipes.synthesis.pipe(SynthesisRecipe.replace(FineCodes, mockFine), SynthesisRecipe.replace(ChunkAudio, mockCodec))
      const { steps, calls } = scripted({ semantic: { tokens: 10, stop: "eos" } })
      const { exit, results } = yield* run(recipe, steps, "Hello there.")
      assert.isTrue(exit._tag === "Success")
      const chunks = exit._tag === "Success" ? exit.value : []
      assert.strictEqual(chunks[0]!.audio.length, 15 * HOP)
      assert.isTrue(chunks[0]!.audio.every((x) => x === 0))
      assert.deepStrictEqual({ fine: calls.fine, codec: calls.codec, semantic: calls.semantic }, { fine: 0, codec: 0, semantic: 1 })
      assert.strictEqual(only(results, "fine").outcome, "succeeded")
      assert.strictEqual(only(results, "codec").outcome, "succeeded")
      assert.deepStrictEqual(results.map((r) => r.stage), [
        "normalize-text", "split", "voice", "audio-cache", "tokenize", "semantic", "coarse", "fine", "codec", "post"
      ])
    }))
})
