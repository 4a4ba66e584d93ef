/**
 * `bark-pipeline synthesize "text" --out out.wav`: runs a startup recipe
 * (default `startup`), then a `synthesize` stage on the engine it provides.
 * Synthesis is a stage like the others: its token progress shows as
 * progress bars on stderr, it lands in the trace and the report, and its
 * failures carry what to do. The WAV is written to a temporary file renamed
 * into place, so an interrupted or failed run leaves no partial file; with
 * `--stream` the temporary file grows chunk by chunk and each chunk's text
 * is printed as it is ready.
 *
 * @since 0.1.0
 */
import { Console, Context, Effect, FileSystem, Option, Path, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { collectSynthesis, joinAudio } from "../../bark/engine/assemble.ts"
import { type AudioChunk, BarkEngine, type SynthesisError, type SynthesisOptions } from "../../bark/engine/BarkEngine.ts"
import * as Environment from "../../bark/stages/environment.ts"
import { encodeWav, type WavFormat } from "../../audio/wav.ts"
import * as Pipeline from "../../pipeline/Pipeline.ts"
import * as Runner from "../../pipeline/Runner.ts"
import * as Stage from "../../pipeline/Stage.ts"
import { StageFatal } from "../../pipeline/StageFatal.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import * as ConsoleSink from "../../pipeline/sinks/console.ts"
import * as JsonlSink from "../../pipeline/sinks/jsonl.ts"
import type { TraceSink } from "../../pipeline/TraceSink.ts"
import { fromPipelineFailure } from "../CliExit.ts"
import * as Pipelines from "../pipelines.ts"
import { dtypeFlag, setFlag, synthesisFlag, withDtype, withSynthesis } from "./run.ts"

/** What the `synthesize` stage produced. */
export class SynthesizedAudio extends Context.Service<SynthesizedAudio, {
  readonly file: string
  readonly seconds: number
  readonly chunks: number
  readonly seed: number | undefined
}>()("bark-pipeline/SynthesizedAudio") {}

export interface SynthesizeRequest {
  readonly text: string
  readonly out: string
  readonly options: Omit<SynthesisOptions, "onProgress">
  readonly format: WavFormat
  /** Write the file as chunks come and print each chunk's text. */
  readonly stream: boolean
}

/** Request errors the user fixes by changing the command line. */
const usageReasons = new Set(["invalid-input", "unknown-voice", "invalid-voice"])

const asStageError = (e: SynthesisError) =>
  new StageFatal({ message: e.message, remediation: e.remediation, errorTag: usageReasons.has(e.reason) ? "InvalidRequest" : e._tag })

/** A temporary file next to `target` to write; `commit` renames it into place, the scope removes it otherwise. */
const atomicFile = Effect.fnUntraced(function*(target: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const file = path.resolve(target)
  const temp = `${file}.${process.pid}.tmp`
  const cannot = (e: { readonly message: string }) =>
    new StageFatal({
      message: `cannot write ${file}: ${e.message}`,
      remediation: "pass an --out path in a writable directory",
      errorTag: "OutputError"
    })
  yield* fs.makeDirectory(path.dirname(file), { recursive: true }).pipe(Effect.mapError(cannot))
  yield* Effect.addFinalizer(() => fs.remove(temp, { force: true }).pipe(Effect.ignore))
  return {
    file,
    write: (bytes: Uint8Array) => fs.writeFile(temp, bytes).pipe(Effect.mapError(cannot)),
    commit: fs.rename(temp, file).pipe(Effect.mapError(cannot))
  }
})

/** What each generation stage counts in its progress. */
const progressUnits = { semantic: "tokens", coarse: "tokens", fine: "passes", codec: "decodes" } as const

const formatSeconds = (samples: number, sampleRate: number) => `${(samples / sampleRate).toFixed(1)} s`

/** The stage that speaks `request.text` with the recipe's engine and writes the WAV. */
export const stage = (request: SynthesizeRequest) =>
  Stage.make({
    name: "synthesize",
    purpose: "speak the text with the engine and write the WAV file",
    provides: SynthesizedAudio,
    needs: [BarkEngine],
    build: Effect.gen(function*() {
      const engine = yield* BarkEngine
      const reporter = yield* StageReporter.StageReporter
      const output = yield* atomicFile(request.out)
      const options: SynthesisOptions = {
        ...request.options,
        // the synthesis recipe's stages land in this run's trace, after the startup's
        onTrace: reporter.emit,
        onProgress: (p) =>
          reporter.progress({
            unit: progressUnits[p.stage],
            done: p.done,
            total: p.total,
            label: `chunk ${p.chunk + 1}/${p.chunks} ${p.stage}`
          })
      }
      const received: Array<AudioChunk> = []
      const onChunk = (chunk: AudioChunk) =>
        Effect.gen(function*() {
          received.push(chunk)
          if (!request.stream) return
          yield* output.write(encodeWav(joinAudio(received), engine.sampleRate, request.format))
          yield* Console.log(`chunk ${chunk.index + 1} (${formatSeconds(chunk.audio.length, chunk.sampleRate)}): ${chunk.text}`)
        })
      const synthesis = yield* collectSynthesis(
        engine.stream(request.text, options).pipe(Stream.mapError(asStageError), Stream.tap(onChunk)),
        engine.sampleRate
      )
      yield* output.write(encodeWav(synthesis.audio, synthesis.sampleRate, request.format))
      yield* output.commit
      const seconds = synthesis.audio.length / synthesis.sampleRate
      yield* StageReporter.annotate({
        file: output.file,
        seconds: Math.round(seconds * 100) / 100,
        chunks: synthesis.chunks.length,
        splitSentences: synthesis.chunks.filter((c) => c.splitSentence).length,
        ...(synthesis.seed === undefined ? { sampler: "argmax" } : { sampler: "multinomial", seed: synthesis.seed })
      })
      return { file: output.file, seconds, chunks: synthesis.chunks.length, seed: synthesis.seed }
    }).pipe(Effect.scoped)
  })

export const command = Command.make(
  "synthesize",
  {
    text: Argument.String("text").pipe(Argument.withDescription("the text to speak (long text is split into chunks)")),
    out: Flag.String("out").pipe(Flag.withDescription("the WAV file to write")),
    voice: Flag.String("voice").pipe(
      Flag.withDescription("a voice of the model (e.g. v2/en_speaker_6) or a path to a suno .npz voice"),
      Flag.optional
    ),
    seed: Flag.Int("seed").pipe(Flag.withDescription("seed of the sampler: the same seed gives the same audio"), Flag.optional),
    sampler: Flag.Literals("sampler", ["multinomial", "argmax"]).pipe(
      Flag.withDescription("multinomial sampling (default) or argmax (greedy, deterministic)"),
      Flag.withDefault("multinomial" as const)
    ),
    carryHistory: Flag.Boolean("carry-history").pipe(
      Flag.withDescription("use each chunk's tokens as the next chunk's voice prompt"),
      Flag.withDefault(false)
    ),
    format: Flag.Literals("format", ["pcm16", "float32"]).pipe(Flag.withDefault("pcm16" as const)),
    model: Flag.String("model").pipe(Flag.withDescription("a model repo id or a local model directory (BARK_MODEL)"), Flag.optional),
    stream: Flag.Boolean("stream").pipe(
      Flag.withDescription("write chunks as they are ready and print each chunk's text"),
      Flag.withDefault(false)
    ),
    pipeline: Flag.String("pipeline").pipe(
      Flag.withDescription("the startup recipe to run first: a name from pipelines/ or a module path"),
      Flag.withDefault("startup")
    ),
    trace: Flag.String("trace").pipe(
      Flag.withDescription("write the trace as JSON Lines to this file: the startup's stages, then the synthesis recipe's (per chunk)"),
      Flag.optional
    ),
    synthesis: synthesisFlag,
    dtype: dtypeFlag,
    set: setFlag
  },
  (flags) =>
    Effect.gen(function*() {
      const recipe = yield* Pipelines.resolve(flags.pipeline)
      const options: SynthesisOptions = {
        sampler: flags.sampler,
        carryHistory: flags.carryHistory,
        ...(Option.isSome(flags.voice) ? { voice: flags.voice.value } : {}),
        ...(Option.isSome(flags.seed) ? { seed: flags.seed.value } : {})
      }
      const pipeline = Pipeline.add(
        recipe,
        stage({ text: flags.text, out: flags.out, options, format: flags.format, stream: flags.stream })
      )
      const sinks: Array<TraceSink> = [ConsoleSink.make()]
      if (Option.isSome(flags.trace)) sinks.push(yield* JsonlSink.make(flags.trace.value))
      const set = yield* withSynthesis(flags.set, flags.synthesis)
      const config = withDtype(Option.isSome(flags.model) ? { ...set, BARK_MODEL: flags.model.value } : set, flags.dtype)
      const result = yield* Effect.result(Runner.run(pipeline, { sinks, config, probes: [Environment.probe] }))
      if (result._tag === "Failure") return yield* fromPipelineFailure(result.failure)
      const audio = Context.get(result.success.context as Context.Context<SynthesizedAudio>, SynthesizedAudio)
      yield* Console.log(
        `wrote ${audio.file}: ${audio.seconds.toFixed(1)} s of audio in ${audio.chunks} chunk${audio.chunks === 1 ? "" : "s"}` +
          (audio.seed === undefined ? " (argmax)" : ` (seed ${audio.seed})`)
      )
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("run the startup recipe, then speak the text into a WAV file"))
