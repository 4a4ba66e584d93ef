/**
 * Does synthesis block the main thread? A 10 ms interval timer runs in the
 * main thread while the in-process engine, then the worker engine, speak the
 * same text with the same seed on a random-weight model; the largest gap
 * between two ticks is how long the event loop was blocked.
 *
 *   node bench/engine-event-loop.ts [--preset demo|barkSmall] [--seconds S] [--threads T] [--json]
 *
 * The model is made once into $TMPDIR/bark-pipeline-bench/<preset> (bark-small
 * size takes tens of seconds the first time). `--seconds` caps the semantic
 * length (random weights never stop on their own).
 */
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import type { BarkEngine } from "../src/bark/engine/BarkEngine.ts"
import { type EngineOptions, makeBarkEngine } from "../src/bark/engine/inProcess.ts"
import { convertModelDir, openModelDir } from "../src/bark/engine/openModelDir.ts"
import { makeWorkerEngine } from "../src/bark/engine/workerEngine.ts"
import { presets } from "../src/dev/randomCheckpoint.ts"
import { ensureRandomModelDir } from "../src/dev/demo/demoModelDir.ts"
import { InferenceBackend } from "../src/onnx/InferenceBackend.ts"

const { values } = parseArgs({
  options: {
    preset: { type: "string", default: "demo" },
    seconds: { type: "string", default: "2" },
    threads: { type: "string" },
    json: { type: "boolean", default: false }
  }
})
const preset = values.preset === "barkSmall" ? "barkSmall" : "demo"
const threads = values.threads === undefined ? undefined : Number(values.threads)
const engineOptions: EngineOptions = { generation: { semantic: { maxGenDurationS: Number(values.seconds) } } }
const text = "The quick brown fox jumps over the lazy dog."

/** Runs `work` while a 10 ms timer ticks; returns the largest gap between ticks and the work's wall time. */
const underTimer = <A>(work: Effect.Effect<A, unknown>) =>
  Effect.gen(function*() {
    let last = performance.now()
    let maxGap = 0
    let ticks = 0
    const timer = setInterval(() => {
      const now = performance.now()
      maxGap = Math.max(maxGap, now - last)
      last = now
      ticks++
    }, 10)
    const t0 = performance.now()
    const result = yield* work.pipe(Effect.ensuring(Effect.sync(() => clearInterval(timer))))
    return { result, wallMs: performance.now() - t0, maxGapMs: Math.max(maxGap, performance.now() - last), ticks }
  })

const measure = (name: string, engine: typeof BarkEngine.Service) =>
  Effect.gen(function*() {
    yield* engine.synthesize(text, { seed: 1 }) // warm-up
    const { result, wallMs, maxGapMs, ticks } = yield* underTimer(engine.synthesize(text, { seed: 1 }))
    return {
      engine: name,
      wallSeconds: Math.round(wallMs) / 1000,
      audioSeconds: Math.round((result.audio.length / result.sampleRate) * 100) / 100,
      maxTimerGapMs: Math.round(maxGapMs * 10) / 10,
      ticks,
      audio: result.audio
    }
  })

const program = Effect.gen(function*() {
  const dir = path.join(os.tmpdir(), "bark-pipeline-bench", preset)
  yield* ensureRandomModelDir(dir, presets[preset])
  const local = yield* measure("in-process", yield* makeBarkEngine(yield* openModelDir(dir), dir, engineOptions))
  const { config, graphs } = yield* convertModelDir(dir)
  const worker = yield* measure(
    "worker",
    yield* makeWorkerEngine({
      modelDir: dir,
      config,
      graphs,
      sessionOptions: { prepack: false },
      backend: "cpu",
      ...(threads === undefined ? {} : { intraOpNumThreads: threads }),
      engine: engineOptions
    })
  )
  const sameAudio = local.audio.length === worker.audio.length && local.audio.every((x, i) => x === worker.audio[i])
  const rows = [local, worker].map(({ audio: _, ...row }) => row)
  const report = { preset, threads: threads ?? "onnxruntime default", cpus: os.cpus().length, sameAudio, rows }
  if (values.json) return console.log(JSON.stringify(report, null, 2))
  console.log(`preset ${preset}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), threads ${report.threads}`)
  console.log("engine      wall s  audio s  max timer gap ms  ticks")
  for (const r of rows) {
    console.log(
      `${r.engine.padEnd(10)}  ${r.wallSeconds.toFixed(2).padStart(6)}  ${r.audioSeconds.toFixed(2).padStart(7)}  ${
        r.maxTimerGapMs.toFixed(1).padStart(16)
      }  ${String(r.ticks).padStart(5)}`
    )
  }
  console.log(`same audio from both engines: ${sameAudio}`)
})

const backend = InferenceBackend.cpu(threads === undefined ? {} : { intraOpNumThreads: threads })
await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Layer.merge(NodeServices.layer, backend))))
