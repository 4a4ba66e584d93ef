/**
 * Benchmark: the startup stages that turn loaded weights into served models
 * (device → preload → compile) and one short synthesis, cold (empty graph
 * cache) and warm (second start on the same cache), with and without
 * SUNO_OFFLOAD_CPU, for random checkpoints of the `demo` preset and of
 * suno/bark-small's dimensions.
 *
 *   node bench/startup.ts                      # both presets
 *   BENCH_PRESETS=demo node bench/startup.ts   # demo only (seconds)
 *   BARK_INTRA_OP_THREADS=2 node bench/startup.ts
 *
 * Every case runs in a fresh process. Peak RSS is the kernel's high-water
 * mark (VmHWM, Linux), reset after the weights are loaded, so it shows what
 * preload/compile and synthesis add on top of the weights held in memory.
 * Prints a Markdown table.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Context, Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { decodeBarkConfig } from "../src/bark/config.ts"
import { generateAudio } from "../src/bark/generate/generate.ts"
import { makeRandomCheckpoint, presets, writeBarkModelDir } from "../src/bark/randomCheckpoint.ts"
import { CompiledModels, LoadedWeights } from "../src/bark/services.ts"
import * as CacheDirs from "../src/bark/stages/cacheDirs.ts"
import * as Compile from "../src/bark/stages/compile.ts"
import * as Device from "../src/bark/stages/device.ts"
import * as Preload from "../src/bark/stages/preload.ts"
import { loadCheckpoint } from "../src/checkpoint/load.ts"
import { sha256File } from "../src/hub/Checksum.ts"
import * as Pipeline from "../src/pipeline/Pipeline.ts"
import * as Runner from "../src/pipeline/Runner.ts"
import * as Stage from "../src/pipeline/Stage.ts"

const PRESETS = { demo: presets.demo, barkSmall: presets.barkSmall } as const
type PresetName = keyof typeof PRESETS

const mb = (bytes: number) => Math.round(bytes / 1024 ** 2)

/** The process's peak RSS in MB since the last reset (Linux), or undefined elsewhere. */
const peakRssMb = (): number | undefined => {
  try {
    const line = fs.readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith("VmHWM:"))
    return line === undefined ? undefined : Math.round(Number(line.split(/\s+/)[1]) / 1024)
  } catch {
    return undefined
  }
}
const resetPeakRss = () => {
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5")
  } catch {
    // not Linux: the peak then includes loading the weights
  }
}

interface CaseResult {
  readonly preset: PresetName
  readonly offload: boolean
  readonly start: "cold" | "warm"
  readonly loadS: number
  readonly rssAfterLoadMb: number
  readonly preloadS: number
  readonly compileS: number
  readonly peakStartupMb: number | undefined
  readonly rssReadyMb: number
  readonly synthesisS: number
  readonly peakSynthesisMb: number | undefined
}

/** One case, in this (child) process. */
const runCase = (preset: PresetName, modelDir: string, cacheDir: string, offload: boolean, start: "cold" | "warm") =>
  Effect.gen(function*() {
    let t = performance.now()
    const weightsFile = path.join(modelDir, "model.safetensors")
    const { tensors } = yield* loadCheckpoint(weightsFile)
    const config = yield* decodeBarkConfig(JSON.parse(fs.readFileSync(path.join(modelDir, "config.json"), "utf8")))
    const sha256 = yield* sha256File(weightsFile)
    const loadS = (performance.now() - t) / 1000
    const rssAfterLoadMb = mb(process.memoryUsage.rss())
    resetPeakRss()

    const recipe = Pipeline.make("bench-startup", "weights → device → preload → compile").pipe(
      Pipeline.add(CacheDirs.stage),
      Pipeline.add(Stage.make({
        name: "safe-load",
        purpose: "weights loaded above",
        provides: LoadedWeights,
        build: Effect.succeed(LoadedWeights.of({ config, tensors, format: "safetensors", sha256 }))
      })),
      Pipeline.add(Device.cpuStage),
      Pipeline.add(Preload.stage),
      Pipeline.add(Compile.stage)
    )
    const ready = yield* Runner.run(recipe, {
      config: { BARK_CACHE_DIR: cacheDir, SUNO_OFFLOAD_CPU: offload ? "1" : "0" }
    })
    const seconds = (stage: string) => (ready.report.results.find((r) => r.stage === stage)?.durationMs ?? 0) / 1000
    const peakStartupMb = peakRssMb()
    const rssReadyMb = mb(process.memoryUsage.rss())
    resetPeakRss()

    t = performance.now()
    yield* generateAudio(Context.get(ready.context, CompiledModels).models, { textIds: [101, 102, 103] }, {
      seed: 1,
      semantic: { maxGenDurationS: 0.5, allowEarlyStop: false }
    })
    const result: CaseResult = {
      preset,
      offload,
      start,
      loadS,
      rssAfterLoadMb,
      preloadS: seconds("preload"),
      compileS: seconds("compile"),
      peakStartupMb,
      rssReadyMb,
      synthesisS: (performance.now() - t) / 1000,
      peakSynthesisMb: peakRssMb()
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

const parent = Effect.gen(function*() {
  const names = (process.env["BENCH_PRESETS"] ?? "demo,barkSmall").split(",").map((s) => s.trim()) as Array<PresetName>
  const root = path.join(os.tmpdir(), "bark-pipeline-bench-startup")
  const self = fileURLToPath(import.meta.url)
  const rows: Array<CaseResult> = []
  for (const preset of names) {
    if (!(preset in PRESETS)) return yield* Effect.die(`unknown preset ${preset}: use ${Object.keys(PRESETS).join(", ")}`)
    const modelDir = yield* modelDirFor(preset, root)
    for (const offload of [false, true]) {
      const cacheDir = fs.mkdtempSync(path.join(root, "cache-"))
      for (const start of ["cold", "warm"] as const) {
        const out = execFileSync(process.execPath, [self, "--case", preset, modelDir, cacheDir, String(offload), start], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
          maxBuffer: 1 << 24
        })
        const row = JSON.parse(out.trim().split("\n").at(-1)!) as CaseResult
        rows.push(row)
        yield* Console.error(`${preset} ${offload ? "offload" : "resident"} ${start}: ${JSON.stringify(row)}`)
      }
      fs.rmSync(cacheDir, { recursive: true, force: true })
    }
  }
  yield* Console.log(
    [
      `| weights | sessions | start | load weights s | RSS after load MB | preload s | compile s | peak RSS startup MB | RSS ready MB | synthesis s | peak RSS synthesis MB |`,
      `|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|`,
      ...rows.map((r) =>
        `| ${r.preset} | ${r.offload ? "offload" : "resident"} | ${r.start} | ${fmt(r.loadS)} | ${r.rssAfterLoadMb} | ${fmt(r.preloadS)} | ${
          fmt(r.compileS)
        } | ${fmt(r.peakStartupMb, 0)} | ${r.rssReadyMb} | ${fmt(r.synthesisS)} | ${fmt(r.peakSynthesisMb, 0)} |`
      )
    ].join("\n")
  )
  yield* Console.log(`\n${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} CPUs, ${mb(os.totalmem())} MB; threads: ${
    process.env["BARK_INTRA_OP_THREADS"] ?? "onnxruntime default"
  }`)
})

const args = process.argv.slice(2)
const program: Effect.Effect<unknown, unknown, NodeServices.NodeServices> = args[0] === "--case"
  ? runCase(args[1] as PresetName, args[2]!, args[3]!, args[4] === "true", args[5] as "cold" | "warm")
  : parent
NodeRuntime.runMain(program.pipe(Effect.provide(NodeServices.layer)))
