/**
 * Example: testing code that sits above the inference backend and above the
 * engine without onnxruntime or model weights, by swapping the stage that
 * provides the service — one `Pipeline.replace` line — instead of mocking
 * modules.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import { Tensor } from "onnxruntime-node"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import mockProfile from "../../pipelines/mock.ts"
import { BarkEngine, type SynthesisOptions } from "../../src/bark/engine/BarkEngine.ts"
import { decodeWav, encodeWav } from "../../src/audio/wav.ts"
import { GraphBuilder } from "../../src/onnx/graph.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"
import * as Stage from "../../src/pipeline/Stage.ts"

/** A device stage per backend layer: the recipe's choice of where sessions run. */
const deviceStage = (layer: typeof InferenceBackend.Cpu) =>
  Stage.make({
    name: "device",
    purpose: "choose the inference backend",
    provides: InferenceBackend,
    build: Effect.gen(function*() {
      return yield* InferenceBackend
    }).pipe(Effect.provide(layer))
  })

/** Code above the backend: a stage that creates a session on whatever backend the recipe chose. */
class Scorer extends Context.Service<Scorer, { readonly score: (x: number) => Effect.Effect<number, unknown> }>()("examples/Scorer") {}

const scorer = Stage.make({
  name: "scorer",
  purpose: "load the scoring graph",
  provides: Scorer,
  needs: [InferenceBackend],
  build: Effect.gen(function*() {
    const backend = yield* InferenceBackend
    const g = new GraphBuilder("scorer")
    g.output(g.gelu(g.input("x", "float32", [1])), "y")
    const session = yield* backend.createSession(g.build(), { model: "scorer" })
    return Scorer.of({
      score: (x) =>
        session.run({ x: new Tensor("float32", Float32Array.of(x), [1]) }, ["y"]).pipe(
          Effect.map((out) => (out["y"]!.data as Float32Array)[0]!)
        )
    })
  })
})

const app = Pipeline.make("scorer-app", "a service that scores numbers").pipe(
  Pipeline.add(deviceStage(InferenceBackend.Cpu)),
  Pipeline.add(scorer)
)

/** Code above the engine: speak a line into a WAV file (atomically). */
const speak = (text: string, file: string, options: SynthesisOptions = {}) =>
  Effect.gen(function*() {
    const engine = yield* BarkEngine
    const { audio, sampleRate } = yield* engine.synthesize(text, options)
    fs.writeFileSync(`${file}.tmp`, encodeWav(audio, sampleRate))
    fs.renameSync(`${file}.tmp`, file)
    return audio.length / sampleRate
  })

describe("example: swapping the backend and the engine", () => {
  it.effect("the app runs on onnxruntime's CPU backend", () =>
    Effect.gen(function*() {
      const ready = yield* Effect.scoped(Effect.gen(function*() {
        const ready = yield* Runner.run(app)
        const y = yield* Context.get(ready.context, Scorer).score(1)
        assert.closeTo(y, 0.8413447, 1e-6)
        return ready
      }))
      assert.strictEqual(ready.report.outcome, "succeeded")
    }))

  it.effect("with the device swapped for the Mock backend, the app's startup fails at the stage above it, saying what to do", () =>
    Effect.gen(function*() {
      // The one-line swap:
      const onMock = app.pipe(Pipeline.replace(InferenceBackend, deviceStage(InferenceBackend.Mock)))
      const failed = yield* Effect.flip(Effect.scoped(Runner.run(onMock)))
      assert.strictEqual(failed.stage, "scorer")
      assert.strictEqual(failed.errorTag, "InferenceError")
      assert.include(failed.remediation, "InferenceBackend.Cpu")
      assert.deepStrictEqual(failed.report.results.map((r) => r.outcome), ["succeeded", "failed"])
    }))

  it.effect("code above the engine is tested on the mock profile: deterministic audio, no weights", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bark-mock-example-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const { context } = yield* Runner.run(mockProfile, { config: { BARK_CACHE_DIR: path.join(dir, "cache") } })
      const say = (file: string, options: SynthesisOptions) =>
        speak("Hello from the mock engine.", path.join(dir, file), options).pipe(Effect.provideContext(context))

      const seconds = yield* say("a.wav", { voice: "v2/en_speaker_6", seed: 7 })
      yield* say("b.wav", { voice: "v2/en_speaker_6", seed: 7 })
      const a = yield* decodeWav(fs.readFileSync(path.join(dir, "a.wav")))
      assert.strictEqual(a.sampleRate, Context.get(context, BarkEngine).sampleRate)
      assert.closeTo(a.samples.length / a.sampleRate, seconds, 1e-3)
      assert.deepStrictEqual(fs.readFileSync(path.join(dir, "a.wav")), fs.readFileSync(path.join(dir, "b.wav")), "same seed, same audio")

      const unknown = yield* Effect.flip(say("c.wav", { voice: "no-such-voice" }))
      assert.strictEqual(unknown._tag, "SynthesisError")
      assert.isFalse(fs.existsSync(path.join(dir, "c.wav")))
    })))
})
