/**
 * The speech formats' encoders (src/audio/encoders.ts) on 10 s of the mock
 * engine's audio at 24 kHz, each in this process after a warm-up encode:
 * time to start an encoder, time to encode, output size and bit rate.
 * Writes a Markdown table to stdout and bench/results/encoders.md.
 *
 *   node bench/encoders.ts
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { mockAudio } from "../src/bark/engine/mock.ts"
import { writeAtomic } from "../src/files/writeAtomic.ts"
import { encoder, SPEECH_FORMATS } from "../src/audio/encoders.ts"

const SAMPLE_RATE = 24_000
const SECONDS = 10
const audio = mockAudio("x".repeat(Math.round(SECONDS / 0.065)), "v2/en_speaker_6", 1).subarray(0, SECONDS * SAMPLE_RATE)

/** One whole encode in 100 ms chunks, as a stream sends it. */
const run = (format: typeof SPEECH_FORMATS[number]) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    const e = yield* encoder(format, SAMPLE_RATE, true)
    const started = performance.now() - t0
    const t1 = performance.now()
    let bytes = 0
    for (let at = 0; at < audio.length; at += SAMPLE_RATE / 10) bytes += (yield* Effect.promise(() => e.encode(audio.subarray(at, at + SAMPLE_RATE / 10)))).length
    bytes += (yield* Effect.promise(() => e.flush())).length
    e.free()
    return { started, encoded: performance.now() - t1, bytes }
  })

const program = Effect.gen(function*() {
  const lines = ["| format | start ms | encode ms (10 s) | × real time | bytes | kbit/s |", "|---|---:|---:|---:|---:|---:|"]
  for (const format of SPEECH_FORMATS) {
    yield* run(format) // warm-up: module load and WebAssembly compile
    const r = yield* run(format)
    lines.push(`| ${format} | ${r.started.toFixed(0)} | ${r.encoded.toFixed(0)} | ${Math.round((SECONDS * 1000) / r.encoded)} | ${r.bytes} | ${((r.bytes * 8) / SECONDS / 1000).toFixed(0)} |`)
  }
  const table = lines.join("\n")
  yield* Console.log(table)
  const cpu = os.cpus()[0]?.model ?? "unknown CPU"
  yield* writeAtomic(
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), "results/encoders.md"),
    `# Speech format encoders\n\n\`node bench/encoders.ts\` on ${cpu}, ${os.availableParallelism()} cores, Node ${process.version}: 10 s of 24 kHz mono in 100 ms chunks, after a warm-up encode.\n\n${table}\n`
  )
})

NodeRuntime.runMain(program.pipe(Effect.provide(NodeServices.layer)))
