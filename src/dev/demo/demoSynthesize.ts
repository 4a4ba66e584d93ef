/**
 * Stage `synthesize` of the offline demo recipe: speaks one sentence with the
 * engine the `ready` stage built and writes it as a 16-bit WAV file
 * (atomically: a temporary file renamed into place), reporting token progress
 * per generation stage on the way.
 *
 * Knobs: BARK_DEMO_OUT (default `demo.wav` in the current directory),
 * BARK_DEMO_TEXT (the sentence).
 *
 * @since 0.1.0
 */
import { writeAtomic } from "../../files/writeAtomic.ts"
import { Config, Context, Effect, Path } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import { StageFatal } from "../../pipeline/StageFatal.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { BarkEngine } from "../../bark/engine/BarkEngine.ts"
import type { EngineOptions } from "../../bark/engine/inProcess.ts"
import { encodeWav } from "../../audio/wav.ts"

/** BARK_DEMO_OUT: where the demo writes its WAV file. Default `demo.wav` (current directory). */
export const outFile = Config.String("BARK_DEMO_OUT").pipe(Config.withDefault("demo.wav"))

/** BARK_DEMO_TEXT: the sentence the demo speaks. */
export const text = Config.String("BARK_DEMO_TEXT").pipe(Config.withDefault("Hello, this is the offline Bark demo speaking through random weights."))

/** The same seed every run: the demo's audio is reproducible on the same build. */
export const DEMO_SEED = 7

/**
 * Random weights never predict EOS, so the demo's engine caps the semantic
 * stage (Bark's `max_gen_duration_s`): about 2.5 s of audio per chunk.
 */
export const demoEngineOptions: EngineOptions = { generation: { semantic: { maxGenDurationS: 2.5 } } }

export class DemoOutput extends Context.Service<DemoOutput, {
  /** Absolute path of the WAV file written. */
  readonly file: string
  readonly seconds: number
  readonly sampleRate: number
}>()("bark-pipeline/DemoOutput") {}

/** What the engine's progress counts, per generation stage. */
const PROGRESS_UNITS = { semantic: "tokens", coarse: "tokens", fine: "passes", codec: "runs" } as const

const rounded = (x: number) => Number(x.toFixed(3))

export const stage = Stage.make({
  name: "synthesize",
  purpose: "speak one sentence with the ready engine and write it to a WAV file",
  provides: DemoOutput,
  needs: [BarkEngine],
  build: Effect.gen(function*() {
    const path = yield* Path.Path
    const engine = yield* BarkEngine
    const reporter = yield* StageReporter.StageReporter
    const file = path.resolve(yield* outFile)
    const sentence = yield* text
    const voice = engine.voices[0]

    const start = performance.now()
    const synthesis = yield* engine.synthesize(sentence, {
      seed: DEMO_SEED,
      ...(voice === undefined ? {} : { voice }),
      onProgress: (p) => reporter.progress({ unit: PROGRESS_UNITS[p.stage], done: p.done, total: p.total, label: p.stage }),
      // the synthesis recipe's stages (semantic, coarse, fine, codec, …) land in the demo's trace
      onTrace: reporter.emit
    })
    const elapsed = (performance.now() - start) / 1000
    const seconds = synthesis.audio.length / synthesis.sampleRate

    yield* writeAtomic(file, encodeWav(synthesis.audio, synthesis.sampleRate)).pipe(
      Effect.mapError((e) =>
        new StageFatal({
          message: `cannot write the demo audio to ${file}: ${e.message}`,
          remediation: "run from a writable directory, or choose the file with --set BARK_DEMO_OUT=/some/where/demo.wav",
          errorTag: "DemoOutputError"
        })
      )
    )
    yield* StageReporter.annotate({
      file,
      text: sentence,
      voice: voice ?? null,
      seed: DEMO_SEED,
      audioSeconds: rounded(seconds),
      synthesisSeconds: rounded(elapsed),
      rtf: rounded(elapsed / seconds)
    })
    return DemoOutput.of({ file, seconds, sampleRate: synthesis.sampleRate })
  })
})
