/**
 * Benchmark: the whole startup recipe (the `cpu` profile on a local model
 * directory: environment → … → ready) and one short synthesis, every
 * scenario in a fresh process:
 *
 * - cold: an empty graph cache (the checkpoint is converted);
 * - warm: the cache the cold run filled (nothing is converted);
 * - engine in-process or worker, SUNO_OFFLOAD_CPU off or on;
 *
 * for random checkpoints of the `demo` preset and of suno/bark-small's
 * dimensions. Reports time to ready (from the process's start, Node's own
 * start-up included), peak RSS (VmHWM) up to ready, RSS at ready, RSS after
 * one synthesis and the process's peak, as JSON lines and a Markdown table.
 *
 *   node bench/startup.ts                      # both presets
 *   BENCH_PRESETS=demo node bench/startup.ts   # demo only (seconds)
 *   node bench/startup.ts --json               # JSON only
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Context, Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import cpu from "../pipelines/cpu.ts"
import { BarkEngine } from "../src/bark/engine/BarkEngine.ts"
import { makeRandomCheckpoint, presets } from "../src/dev/randomCheckpoint.ts"
import { writeBarkModelDir } from "../src/dev/modelDir.ts"
import * as Ready from "../src/bark/stages/ready.ts"
import * as Memory from "../src/pipeline/memory.ts"
import * as Pipeline from "../src/pipeline/Pipeline.ts"
import * as Runner from "../src/pipeline/Runner.ts"

const PRESETS = { demo: presets.demo, barkSmall: presets.barkSmall } as const
type PresetName = keyof typeof PRESETS

interface Scenario {
  readonly start: "cold" | "warm"
  readonly engine: "in-process" | "worker"
  readonly offload: boolean
}

/** Cold once per engine (each converts into a fresh cache), then every warm combination on the cache a cold run filled. */
const SCENARIOS: ReadonlyArray<Scenario> = [
  { start: "cold", engine: "in-process", offload: false },
  { start: "warm", engine: "in-process", offload: false },
  { start: "warm", engine: "in-process", offload: true },
  { start: "warm", engine: "worker", offload: false },
  { start: "warm", engine: "worker", offload: true }
]

interface CaseResult extends Scenario {
  readonly preset: PresetName
  readonly readyS: number
  readonly peakReadyMb: number | undefined
  readonly rssReadyMb: number
  readonly synthesisS: number
  readonly rssAfterSynthesisMb: number
  readonly peakMb: number | undefined
}

const mb = (bytes: number) => Math.round(bytes / 1024 ** 2)

/** One scenario, in this (child) process. */
const runCase = (preset: PresetName, modelDir: string, cacheDir: string, scenario: Scenario) =>
  Effect.gen(function*() {
    // A short sentence: random weights never stop by themselves, so the semantic stage is capped.
    const recipe = cpu.pipe(Pipeline.replace(BarkEngine, Ready.make({ generation: { semantic: { maxGenDurationS: 0.5 } } })))
    const ready = yield* Runner.run(recipe, {
      config: {
        BARK_MODEL: modelDir,
        BARK_CACHE_DIR: cacheDir,
        BARK_ENGINE: scenario.engine,
        SUNO_OFFLOAD_CPU: scenario.offload ? "1" : "0"
      }
    })
    const readyS = performance.now() / 1000
    // The runner resets the high-water mark at each stage's start: the peak up to ready is the largest stage peak.
    const stagePeaks = ready.report.results.flatMap((r) => r.peakRssMb === undefined ? [] : [r.peakRssMb])
    const peakReadyMb = stagePeaks.length === 0 ? undefined : Math.max(...stagePeaks)
    const rssReadyMb = mb(process.memoryUsage.rss())
    const t = performance.now()
    yield* Context.get(ready.context, BarkEngine).synthesize("Hello there.", { seed: 1 })
    const result: CaseResult = {
      preset,
      ...scenario,
      readyS,
      peakReadyMb,
      rssReadyMb,
      synthesisS: (performance.now() - t) / 1000,
      rssAfterSynthesisMb: mb(process.memoryUsage.rss()),
      peakMb: Math.max(peakReadyMb ?? 0, Memory.procfs().readMb() ?? 0) || undefined
    }
    yield* Console.log(JSON.stringify(result))
  }).pipe(Effect.scoped)

/** Writes the preset's random model directory once (deterministic, so it is reused across runs). */
const modelDirFor = (preset: PresetName, root: string) =>
  Effect.gen(function*() {
    const dir = path.join(root, `model-${preset}`)
    if (fs.existsSync(path.join(dir, "config.json"))) return dir
    yield* writeBarkModelDir(dir, yield* makeRandomCheckpoint(PRESETS[preset]))
    return dir
  })

const fmt = (n: number | undefined, digits = 1) => (n === undefined ? "n/a" : n.toFixed(digits))

const parent = (jsonOnly: boolean) =>
  Effect.gen(function*() {
    const names = (process.env["BENCH_PRESETS"] ?? "demo,barkSmall").split(",").map((s) => s.trim()) as Array<PresetName>
    const root = path.join(os.tmpdir(), "bark-pipeline-bench-startup")
    const self = fileURLToPath(import.meta.url)
    const rows: Array<CaseResult> = []
    for (const preset of names) {
      if (!(preset in PRESETS)) return yield* Effect.die(`unknown preset ${preset}: use ${Object.keys(PRESETS).join(", ")}`)
      const modelDir = yield* modelDirFor(preset, root)
      const cacheDir = fs.mkdtempSync(path.join(root, "cache-"))
      for (const scenario of SCENARIOS) {
        const out = execFileSync(process.execPath, [self, "--case", preset, modelDir, cacheDir, JSON.stringify(scenario)], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "inherit"],
          maxBuffer: 1 << 24
        })
        const row = JSON.parse(out.trim().split("\n").at(-1)!) as CaseResult
        rows.push(row)
        yield* Console.log(JSON.stringify(row))
      }
      fs.rmSync(cacheDir, { recursive: true, force: true })
    }
    if (jsonOnly) return
    yield* Console.log(
      [
        "",
        `| weights | start | engine | sessions | time to ready s | peak RSS to ready MB | RSS at ready MB | synthesis s | RSS after synthesis MB | peak RSS MB |`,
        `|---|---|---|---|---:|---:|---:|---:|---:|---:|`,
        ...rows.map((r) =>
          `| ${r.preset} | ${r.start} | ${r.engine} | ${r.offload ? "offload" : "resident"} | ${fmt(r.readyS)} | ${fmt(r.peakReadyMb, 0)} | ${r.rssReadyMb} | ${
            fmt(r.synthesisS)
          } | ${r.rssAfterSynthesisMb} | ${fmt(r.peakMb, 0)} |`
        ),
        "",
        `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} CPUs, ${mb(os.totalmem())} MB, Node ${process.version}`
      ].join("\n")
    )
  })

const args = process.argv.slice(2)
const program: Effect.Effect<unknown, unknown, NodeServices.NodeServices> = args[0] === "--case"
  ? runCase(args[1] as PresetName, args[2]!, args[3]!, JSON.parse(args[4]!) as Scenario)
  : parent(args.includes("--json"))
NodeRuntime.runMain(program.pipe(Effect.provide(NodeServices.layer)))
