/**
 * Benchmark: EnCodec decoding of 750 frames (10 s of audio) at the real codec
 * size (num_filters 32, LSTM 512, 32 stored codebooks) on random weights.
 *
 *   node bench/codec.ts            # threads: BARK_INTRA_OP_THREADS or onnxruntime's default
 *   BENCH_RUNS=10 node bench/codec.ts
 *
 * Prints graph-build + session-creation time and the median / min decode time.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Schema } from "effect"
import { CodecConfig } from "../src/bark/codec/config.ts"
import { makeCodecDecoder } from "../src/bark/codec/decoder.ts"
import { makeRandomCheckpoint, presets } from "../src/dev/randomCheckpoint.ts"
import { InferenceBackend } from "../src/onnx/InferenceBackend.ts"

const FRAMES = 750
const RUNS = Number(process.env.BENCH_RUNS ?? 5)

const seconds = (since: number) => (performance.now() - since) / 1000

const program = Effect.gen(function*() {
  const checkpoint = yield* makeRandomCheckpoint({ ...presets.tiny, codecFilters: 32, codebooks: 32 })
  const config = yield* Schema.decodeUnknownEffect(CodecConfig)(checkpoint.config.codec_config)
  const backend = yield* InferenceBackend

  let start = performance.now()
  const decoder = yield* makeCodecDecoder(checkpoint.tensors, config, backend)
  yield* Console.log(`build + session: ${seconds(start).toFixed(2)} s`)

  const codes = Int32Array.from({ length: 8 * FRAMES }, (_, i) => (i * 7919) % 1024)
  yield* decoder.decode(codes, FRAMES) // warm-up
  const times: Array<number> = []
  for (let i = 0; i < RUNS; i++) {
    start = performance.now()
    yield* decoder.decode(codes, FRAMES)
    times.push(seconds(start))
  }
  times.sort((a, b) => a - b)
  const audio = (FRAMES * decoder.hopLength) / decoder.sampleRate
  const median = times[Math.floor(times.length / 2)]!
  yield* Console.log(
    `decode ${FRAMES} frames (${audio} s audio): median ${median.toFixed(3)} s, min ${times[0]!.toFixed(3)} s over ${RUNS} runs ` +
      `(${(audio / median).toFixed(1)}× real time)`
  )
}).pipe(Effect.scoped, Effect.provide(InferenceBackend.Cpu))

NodeRuntime.runMain(program)
