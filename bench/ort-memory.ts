/**
 * Benchmark: onnxruntime's memory settings on the converted bark-small-sized
 * graphs, each variant in a fresh process: prepacking on/off, the CPU memory
 * arena on/off, memory-pattern planning on/off. Opens the random
 * bark-small-sized model of `bark-pipeline bench` (made on first use) from the
 * graph cache, then runs the bench's fixed work. Reports the time to open the
 * four sessions, RSS after opening (anonymous and file-backed apart), the
 * per-stage speed and the peak RSS, as JSON lines and a Markdown table.
 *
 *   node bench/ort-memory.ts
 *   node bench/ort-memory.ts --semantic-tokens 32 --coarse-tokens 64
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { benchModelDirName, benchModelPreset, runBench } from "../src/dev/bench.ts"
import { openModelDir } from "../src/bark/engine/openModelDir.ts"
import * as Settings from "../src/bark/settings.ts"
import { ensureRandomModelDir } from "../src/dev/demo/demoModelDir.ts"
import { InferenceBackend, type SessionOptions } from "../src/onnx/InferenceBackend.ts"

const VARIANTS: Readonly<Record<string, Omit<SessionOptions, "model">>> = {
  "default (prepack off, arena off)": { prepack: false, cpuMemArena: false },
  "prepack on": { prepack: true, cpuMemArena: false },
  "arena on": { prepack: false, cpuMemArena: true },
  "mem pattern off": { prepack: false, cpuMemArena: false, memPattern: false },
  "prepack on, arena on (onnxruntime's defaults)": { prepack: true, cpuMemArena: true }
}

const { values } = parseArgs({
  options: {
    case: { type: "string" },
    "semantic-tokens": { type: "string", default: "64" },
    "coarse-tokens": { type: "string", default: "128" },
    "fine-passes": { type: "string", default: "1" },
    "codec-frames": { type: "string", default: "150" }
  }
})
const work = {
  semanticTokens: Number(values["semantic-tokens"]),
  coarseTokens: Number(values["coarse-tokens"]),
  finePasses: Number(values["fine-passes"]),
  codecFrames: Number(values["codec-frames"])
}

/** RssAnon and RssFile of this process, MB (Linux). */
const rssParts = () => {
  const status = fs.readFileSync("/proc/self/status", "utf8")
  const field = (name: string) => Math.round(Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, "m"))?.[1] ?? 0) / 1024)
  return { anonMb: field("RssAnon"), fileMb: field("RssFile") }
}

const modelDir = Effect.gen(function*() {
  const { dir } = yield* Settings.ownCache
  return (yield* ensureRandomModelDir(path.join(dir, benchModelDirName), benchModelPreset)).dir
})

const runCase = (variant: string) =>
  Effect.gen(function*() {
    const dir = yield* modelDir
    const t0 = performance.now()
    const models = yield* openModelDir(dir, { sessionOptions: VARIANTS[variant]! })
    const openS = (performance.now() - t0) / 1000
    const afterOpen = rssParts()
    const figures = yield* runBench(models, work)
    yield* Console.log(JSON.stringify({
      variant,
      openS,
      anonAfterOpenMb: afterOpen.anonMb,
      fileAfterOpenMb: afterOpen.fileMb,
      semanticMsPerToken: figures.semantic.ms_per_token,
      coarseMsPerToken: figures.coarse.ms_per_token,
      fineSecondsPerPass: figures.fine.seconds_per_pass,
      codecSeconds: figures.codec.seconds,
      afterRun: rssParts(),
      peakMb: Math.round(process.resourceUsage().maxRSS / 1024)
    }))
  }).pipe(Effect.scoped, Effect.provide(InferenceBackend.cpu({ intraOpNumThreads: 2 })))

const parent = Effect.gen(function*() {
  yield* modelDir // made (and converted below) before any timed case
  const self = fileURLToPath(import.meta.url)
  const forward = process.argv.slice(2)
  const rows: Array<Record<string, unknown>> = []
  for (const variant of Object.keys(VARIANTS)) {
    const out = execFileSync(process.execPath, [self, ...forward, "--case", variant], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    const row = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, unknown>
    rows.push(row)
    yield* Console.log(JSON.stringify(row))
  }
  yield* Console.log([
    "",
    "| variant | open s | RssAnon after open MB | RssFile after open MB | semantic ms/token | coarse ms/token | fine s/pass | peak RSS MB |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) =>
      `| ${r["variant"]} | ${(r["openS"] as number).toFixed(2)} | ${r["anonAfterOpenMb"]} | ${r["fileAfterOpenMb"]} | ${r["semanticMsPerToken"]} | ${r["coarseMsPerToken"]} | ${r["fineSecondsPerPass"]} | ${r["peakMb"]} |`
    ),
    "",
    `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} CPUs, Node ${process.version}, 2 intra-op threads; work ${JSON.stringify(work)}`
  ].join("\n"))
})

NodeRuntime.runMain((values.case === undefined ? parent : runCase(values.case)).pipe(Effect.provide(NodeServices.layer)))
