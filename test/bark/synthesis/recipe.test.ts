/**
 * Synthesis as a declared recipe, on a tiny random model with real
 * onnxruntime sessions: every request runs the `synthesis` recipe's stages
 * and gets exactly the audio of the chain run directly (generateAudio, one
 * sampler drawn by all three stages); the trace records each stage per
 * request and per chunk; warnings fire in their condition and only then; a
 * failing stage stops the request with its remediation; stages swap (the
 * draft lane skips fine; a test replaces fine and codec).
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { chunkSeed } from "../../../src/bark/engine/samplingSettings.ts"
import { generateAudio } from "../../../src/bark/generate/generate.ts"
import { multinomial } from "../../../src/bark/generate/sampling.ts"
import { loadVoice } from "../../../src/bark/voices.ts"
import { loadTokenizer } from "../../../src/bark/tokenizer.ts"
import type { StageResult } from "../../../src/pipeline/StageResult.ts"
import type { TraceEvent } from "../../../src/pipeline/TraceEvent.ts"
import { testEngineOptions, TinyEngine, tinyEngine } from "../engine/tinyModel.ts"


/** Runs `effect` with a trace collector; returns its value and the stage results in the order they finished. */
const traced = <A, E, R>(run: (onTrace: (event: TraceEvent) => Effect.Effect<void>) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const events: Array<TraceEvent> = []
    const value = yield* run((event) => Effect.sync(() => void events.push(event)))
    const results = events.flatMap((e) => e.type === "stage-finished" ? [e.result] : [])
    return { value, events, results }
  })

const byStage = (results: ReadonlyArray<StageResult>, stage: string) => results.filter((r) => r.stage === stage)

describe("the synthesis recipe", () => {
  layer(tinyEngine, { timeout: 120_000, excludeTestServices: true })((it) => {
    it.effect("gives exactly the audio of the chain run directly, with the chunk's seed drawn by all three stages", () =>
      Effect.gen(function*() {
        const { engine, models, dir } = yield* TinyEngine
        const text = "Hello there, how are you today?"
        const voice = "v2/en_speaker_1"
        const through = yield* engine.synthesize(text, { seed: 11, voice })
        const tokenizer = yield* loadTokenizer(`${dir}/vocab.txt`)
        const direct = yield* generateAudio(models, { text, tokenizer }, {
          voice: yield* loadVoice(dir, voice),
          semantic: testEngineOptions.generation!.semantic!,
          sampler: multinomial(chunkSeed(11, 0))
        })
        assert.strictEqual(through.chunks.length, 1)
        assert.deepStrictEqual(through.audio, direct.audio)
      }))

    it.effect("records every stage once per request and once per chunk, with its metadata", () =>
      Effect.gen(function*() {
        const { engine } = yield* TinyEngine
        const text = "One short sentence here. Another short sentence follows it. And a third one ends the text."
        const { value, results, events } = yield* traced((onTrace) => engine.synthesize(text, { seed: 3, voice: "v2/en_speaker_0", onTrace }))
        const chunks = value.chunks.length
        assert.isAbove(chunks, 1)
        for (const stage of ["normalize-text", "split", "voice", "audio-cache"]) assert.lengthOf(byStage(results, stage), 1, stage)
        for (const stage of ["tokenize", "semantic", "coarse", "fine", "codec", "post"]) assert.lengthOf(byStage(results, stage), chunks, stage)
        assert.strictEqual(byStage(results, "split")[0]!.metadata["chunks"], chunks)
        assert.strictEqual(byStage(results, "audio-cache")[0]!.outcome, "skipped")
        assert.strictEqual(byStage(results, "voice")[0]!.outcome, "succeeded")
        const semantic = byStage(results, "semantic")
        assert.isTrue(semantic.every((r) => typeof r.metadata["tokens"] === "number" && r.metadata["tokens"] > 0))
        const codec = byStage(results, "codec")
        assert.deepStrictEqual(codec.map((r) => r.metadata["codebooks"]), Array(chunks).fill(8))
        // one prepare run and one chunk run per chunk, each with its own pipeline-finished report
        const reports = events.flatMap((e) => e.type === "pipeline-finished" ? [e.report.pipeline] : [])
        assert.deepStrictEqual(reports.filter((p) => p === "synthesis/prepare").length, 1)
        assert.deepStrictEqual(reports.filter((p) => p === "synthesis/chunk").length, chunks)
      }))

    it.effect("warns when the semantic stage hits its length cap without EOS, and when a sentence is cut; not otherwise", () =>
      Effect.gen(function*() {
        const { engine } = yield* TinyEngine
        // random weights never emit EOS: with the test cap every chunk stops at the cap
        const capped = yield* traced((onTrace) => engine.synthesize("Hello there.", { seed: 1, onTrace }))
        const semantic = byStage(capped.results, "semantic")[0]!
        assert.strictEqual(semantic.outcome, "warned")
        assert.include(semantic.warnings[0]!.message, "length cap")
        assert.strictEqual(semantic.metadata["stop"], "max-duration")
        assert.strictEqual(byStage(capped.results, "split")[0]!.outcome, "succeeded")

        const runOn = "word ".repeat(25).trim() + "."
        const cut = yield* traced((onTrace) => engine.synthesize(runOn, { seed: 1, onTrace }))
        const split = byStage(cut.results, "split")[0]!
        assert.strictEqual(split.outcome, "warned")
        assert.include(split.warnings[0]!.message, "cut at word boundaries")
      }))

    it.effect("stops a request at a failing stage with its reason and remediation", () =>
      Effect.gen(function*() {
        const { engine } = yield* TinyEngine
        const { value, results } = yield* traced((onTrace) => Effect.flip(engine.synthesize("Hello.", { voice: "v2/xx_speaker_9", onTrace })))
        assert.strictEqual(value.reason, "unknown-voice")
        assert.include(value.remediation, "voice")
        const voice = byStage(results, "voice")[0]!
        assert.strictEqual(voice.outcome, "failed")
        assert.isDefined(voice.error)
        assert.strictEqual(byStage(results, "audio-cache")[0]!.outcome, "not-run")
        assert.lengthOf(byStage(results, "semantic"), 0)
      }))

    it.effect("the draft lane skips fine and decodes two codebooks: the same length of audio", () =>
      Effect.gen(function*() {
        const { engine } = yield* TinyEngine
        const text = "Hello there, how are you today?"
        const full = yield* engine.synthesize(text, { seed: 5 })
        const draft = yield* traced((onTrace) => engine.synthesize(text, { seed: 5, synthesis: "draft", onTrace }))
        assert.strictEqual(draft.value.audio.length, full.audio.length)
        assert.notDeepEqual(draft.value.audio, full.audio)
        assert.strictEqual(byStage(draft.results, "fine")[0]!.outcome, "skipped")
        assert.strictEqual(byStage(draft.results, "codec")[0]!.metadata["codebooks"], 2)
        assert.strictEqual(byStage(draft.results, "codec")[0]!.metadata["kbps"], 1.5)
      }))

    it.effect("an unknown recipe name is refused with the names there are", () =>
      Effect.gen(function*() {
        const { engine } = yield* TinyEngine
        const error = yield* Effect.flip(Stream.runDrain(engine.stream("Hello.", { synthesis: "nope" })))
        assert.strictEqual(error.reason, "invalid-input")
        assert.include(error.remediation, "synthesis, draft")
      }))
  })
})
