/**
 * Benchmark: the `synthesis` recipe against the `draft` lane (no fine stage,
 * EnCodec at 1.5 kbps) at suno/bark-small's dimensions (random weights), each
 * lane and weight type in a fresh process: the in-process engine on a
 * converted random model, one warm-up request, then RUNS requests of one
 * sentence with a seed. Random weights never emit EOS, so the semantic stage
 * runs to its cap (BENCH_SECONDS of speech, default 4): every run does the
 * same work. Reports the median synthesis seconds, the audio seconds, the
 * real-time factor, the per-stage seconds from the trace, and the process's
 * peak RSS (VmHWM), as JSON lines and a Markdown table (bench/results/
 * synthesis-lanes.md).
 *
 *   node bench/synthesis-lanes.ts                   # fp32 and q4
 *   BENCH_DTYPES=q4 RUNS=3 node bench/synthesis-lanes.ts
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Dtype } from "../src/bark/dtype.ts"
import { makeBarkEngine } from "../src/bark/engine/inProcess.ts"
import { openModelDir } from "../src/bark/engine/openModelDir.ts"
import { ensureRandomModelDir } from "../src/dev/demo/demoModelDir.ts"
import { presets } from "../src/dev/randomCheckpoint.ts"
import { coreCount, InferenceBackend } from "../src/onnx/InferenceBackend.ts"
import * as Memory from "../src/pipeline/memory.ts"
import type { TraceEvent } from "../src/pipeline/TraceEvent.ts"

const LANES = ["synthesis", "draft"] as const
type Lane = typeof LANES[number]

const TEXT = "The harbour wakes slowly as the first boats head out to sea."
const RUNS = Number(process.env["RUNS"] ?? 3)
const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 4)

interface Row {
  readonly lane: Lane
  readonly dtype: Dtype
  readonly runs: number
  readonly medianS: number
  readonly audioS: number
  readonly rtf: number
  readonly stagesS: Readonly<Record<string, number>>
  readonly peakMb: number | undefined
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const runCase = (lane: Lane, dtype: Dtype, modelDir: string, ownDir: string) =>
  Effect.gen(function*() {
    const models = yield* openModelDir(modelDir, { ownDir, dtype })
    const engine = yield* makeBarkEngine(models, modelDir, { generation: { semantic: { maxGenDurationS: SECONDS } } })
    const speak = (seed: number) =>
      Effect.gen(function*() {
        const stages: Record<string, number> = {}
        const onTrace = (event: TraceEvent) =>
          Effect.sync(() => {
            if (event.type === "stage-finished") stages[event.result.stage] = (stages[event.result.stage] ?? 0) + event.result.durationMs / 1000
          })
        const t0 = performance.now()
        const out = yield* engine.synthesize(TEXT, { seed, synthesis: lane, onTrace })
        return { seconds: (performance.now() - t0) / 1000, audioS: out.audio.length / out.sampleRate, stages }
      })
    yield* speak(0)
    const runs: Array<Effect.Success<ReturnType<typeof speak>>> = []
    for (let i = 1; i <= RUNS; i++) runs.push(yield* speak(i))
    const medianS = median(runs.map((r) => r.seconds))
    const stagesS = Object.fromEntries(Object.keys(runs[0]!.stages).map((s) => [s, Math.round(median(runs.map((r) => r.stages[s] ?? 0)) * 1000) / 1000]))
    const row: Row = {
      lane,
      dtype,
      runs: RUNS,
      medianS: Math.round(medianS * 1000) / 1000,
      audioS: runs[0]!.audioS,
      rtf: Math.round((medianS / runs[0]!.audioS) * 100) / 100,
      stagesS,
      peakMb: Memory.procfs().readMb()
    }
    yield* Console.log(JSON.stringify(row))
  }).pipe(Effect.scoped, Effect.provide(InferenceBackend.cpu({ intraOpNumThreads: coreCount() })))

const parent = Effect.gen(function*() {
  const dtypes = (process.env["BENCH_DTYPES"] ?? "fp32,q4").split(",").map((s) => s.trim()) as Array<Dtype>
  const root = path.join(os.tmpdir(), "bark-pipeline-bench-lanes")
  const { dir: modelDir } = yield* ensureRandomModelDir(path.join(root, "model-bark-small"), presets.barkSmall)
  const ownDir = path.join(root, "own")
  const self = fileURLToPath(import.meta.url)
  const rows: Array<Row> = []
  for (const dtype of dtypes) {
    for (const lane of LANES) {
      const out = execFileSync(process.execPath, [self, "--case", lane, dtype, modelDir, ownDir], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"]
      })
      const row = JSON.parse(out.trim().split("\n").at(-1)!) as Row
      rows.push(row)
      yield* Console.log(JSON.stringify(row))
    }
  }
  const full = (dtype: Dtype) => rows.find((r) => r.dtype === dtype && r.lane === "synthesis")!
  const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU"
  const table = [
    `# synthesis vs draft at bark-small size`,
    "",
    `\`node bench/synthesis-lanes.ts\` (RUNS=${RUNS}, BENCH_SECONDS=${SECONDS}); ${cpu}, ${os.availableParallelism()} CPUs, Node ${process.version}; random weights at suno/bark-small's dimensions, in-process engine, ${coreCount()} intra-op threads, a fresh process per row.`,
    "",
    "| dtype | lane | synthesis s (median) | audio s | RTF | semantic s | coarse s | fine s | codec s | speed-up | peak RSS MB |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) =>
      `| ${r.dtype} | ${r.lane} | ${r.medianS} | ${r.audioS} | ${r.rtf} | ${r.stagesS["semantic"] ?? "-"} | ${r.stagesS["coarse"] ?? "-"} | ${
        r.stagesS["fine"] ?? "-"
      } | ${r.stagesS["codec"] ?? "-"} | ${(full(r.dtype).medianS / r.medianS).toFixed(2)}× | ${r.peakMb ?? "n/a"} |`
    ),
    ""
  ].join("\n")
  fs.mkdirSync(path.join(import.meta.dirname, "results"), { recursive: true })
  fs.writeFileSync(path.join(import.meta.dirname, "results", "synthesis-lanes.md"), table)
  yield* Console.log(table)
})

const args = process.argv.slice(2)
const program = args[0] === "--case" ? runCase(args[1] as Lane, args[2] as Dtype, args[3]!, args[4]!) : parent
NodeRuntime.runMain(program.pipe(Effect.provide(NodeServices.layer)))
