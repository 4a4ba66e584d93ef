/**
 * Benchmark: what the pipeline runner costs per request. A 10-stage pipeline
 * of trivial stages shaped like a synthesis chain (normalize → split →
 * tokenize → voice → semantic → coarse → fine → codec → post → encode; each
 * provides a small value made from the previous one and annotates its
 * record) runs 10 000 times with a fresh in-memory sink per run, against the
 * same ten effects composed directly (one Effect.gen calling each in turn,
 * with a reporter that keeps the annotations as the runner's does). Three
 * scenarios, each in a fresh process, each measured after a warm-up:
 *
 * - direct: the ten effects, no runner;
 * - lean: `Runner.run(pipeline, { lean: true })`, as per-request pipelines run;
 * - full: `Runner.run(pipeline)`, as startup runs (environment probe, RSS and
 *   peak RSS around every stage).
 *
 * Prints, and writes to bench/results/runner-overhead.md, µs per run (median
 * and p99 over batches of 100 runs) and the runner's overhead per request
 * (a run minus direct), with the machine, Node's version and the command.
 *
 *   node bench/runner-overhead.ts                 # all three, the table, the results file
 *   node bench/runner-overhead.ts --runs 20000    # more runs per scenario
 *   node bench/runner-overhead.ts --case lean     # one scenario in this process (JSON)
 */
import { Context, Effect } from "effect"
import type { Json } from "effect/Schema"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import * as Pipeline from "../src/pipeline/Pipeline.ts"
import * as Runner from "../src/pipeline/Runner.ts"
import * as MemorySink from "../src/pipeline/sinks/memory.ts"
import * as Stage from "../src/pipeline/Stage.ts"
import * as StageReporter from "../src/pipeline/StageReporter.ts"

const { values } = parseArgs({
  options: {
    case: { type: "string" },
    runs: { type: "string", default: "10000" },
    warmup: { type: "string", default: "3000" },
    batch: { type: "string", default: "100" }
  }
})
const RUNS = Number(values.runs)
const WARMUP = Number(values.warmup)
const BATCH = Number(values.batch)

// ---------------------------------------------------------------------------
// The chain: ten steps, each a small value from the previous one.

class Request extends Context.Service<Request, { readonly text: string }>()("bench/Request") {}
class Normalized extends Context.Service<Normalized, { readonly text: string }>()("bench/Normalized") {}
class Chunks extends Context.Service<Chunks, { readonly chunks: ReadonlyArray<string> }>()("bench/Chunks") {}
class Tokens extends Context.Service<Tokens, { readonly ids: ReadonlyArray<number> }>()("bench/Tokens") {}
class Voice extends Context.Service<Voice, { readonly name: string; readonly ids: ReadonlyArray<number> }>()("bench/Voice") {}
class Semantic extends Context.Service<Semantic, { readonly tokens: ReadonlyArray<number> }>()("bench/Semantic") {}
class Coarse extends Context.Service<Coarse, { readonly codes: ReadonlyArray<number> }>()("bench/Coarse") {}
class Fine extends Context.Service<Fine, { readonly codes: ReadonlyArray<number> }>()("bench/Fine") {}
class Codec extends Context.Service<Codec, { readonly samples: Float32Array }>()("bench/Codec") {}
class Post extends Context.Service<Post, { readonly samples: Float32Array }>()("bench/Post") {}
class Encoded extends Context.Service<Encoded, { readonly bytes: number }>()("bench/Encoded") {}

const step = <A, B>(f: (a: A) => B, note: (b: B) => Readonly<Record<string, Json>>) => (a: A) =>
  Effect.gen(function*() {
    const b = f(a)
    yield* StageReporter.annotate(note(b))
    return b
  })

const steps = {
  normalize: step((r: Request["Service"]) => ({ text: r.text.trim().toLowerCase() }), (n) => ({ chars: n.text.length })),
  split: step((n: Normalized["Service"]) => ({ chunks: n.text.split(". ") }), (c) => ({ chunks: c.chunks.length })),
  tokenize: step((c: Chunks["Service"]) => ({ ids: [...c.chunks[0]!].slice(0, 16).map((ch) => ch.charCodeAt(0)) }), (t) => ({ ids: t.ids.length })),
  voice: step((t: Tokens["Service"]) => ({ name: "v2/en_speaker_6", ids: t.ids }), (v) => ({ voice: v.name })),
  semantic: step((v: Voice["Service"]) => ({ tokens: v.ids.map((x) => x * 3) }), (s) => ({ tokens: s.tokens.length })),
  coarse: step((s: Semantic["Service"]) => ({ codes: s.tokens.map((x) => x % 1024) }), (c) => ({ codes: c.codes.length })),
  fine: step((c: Coarse["Service"]) => ({ codes: c.codes.map((x) => x ^ 5) }), (f) => ({ codes: f.codes.length })),
  codec: step((f: Fine["Service"]) => ({ samples: Float32Array.from(f.codes, (x) => x / 1024) }), (c) => ({ samples: c.samples.length })),
  post: step((c: Codec["Service"]) => ({ samples: c.samples.map((x) => x * 0.9) }), (p) => ({ samples: p.samples.length })),
  encode: step((p: Post["Service"]) => ({ bytes: p.samples.length * 2 + 44 }), (e) => ({ bytes: e.bytes }))
}

/** Each step as a stage reading the previous step's service (the first one reads the request, which the caller gives). */
const stage = <I, S, F, A>(
  name: string,
  provides: Context.Key<I, S>,
  from: Context.Key<F, A>,
  f: (a: A) => Effect.Effect<S, never, StageReporter.StageReporter>
) => Stage.make({ name, purpose: `the ${name} step`, provides, needs: from.key === Request.key ? [] : [from], build: Effect.flatMap(from, f) })

const pipeline = Pipeline.make("overhead", "ten trivial stages shaped like a synthesis chain").pipe(
  Pipeline.add(stage("normalize", Normalized, Request, steps.normalize)),
  Pipeline.add(stage("split", Chunks, Normalized, steps.split)),
  Pipeline.add(stage("tokenize", Tokens, Chunks, steps.tokenize)),
  Pipeline.add(stage("voice", Voice, Tokens, steps.voice)),
  Pipeline.add(stage("semantic", Semantic, Voice, steps.semantic)),
  Pipeline.add(stage("coarse", Coarse, Semantic, steps.coarse)),
  Pipeline.add(stage("fine", Fine, Coarse, steps.fine)),
  Pipeline.add(stage("codec", Codec, Fine, steps.codec)),
  Pipeline.add(stage("post", Post, Codec, steps.post)),
  Pipeline.add(stage("encode", Encoded, Post, steps.encode))
)

const request = { text: "  Hello there. This is a benchmark of the runner, not of Bark.  " }

/** The same ten effects in one Effect.gen, with a reporter that keeps each step's annotations as the runner does. */
const direct = Effect.gen(function*() {
  const metadata: Array<Record<string, Json>> = []
  let current: Record<string, Json> = {}
  const reporter = StageReporter.StageReporter.of({
    stage: "direct",
    warn: () => Effect.void,
    progress: () => Effect.void,
    annotate: (fields) => Effect.sync(() => void Object.assign(current, fields)),
    skipped: () => Effect.void,
    emit: () => Effect.void
  })
  const next = <A>(effect: Effect.Effect<A, never, StageReporter.StageReporter>) =>
    Effect.provideService(effect, StageReporter.StageReporter, reporter).pipe(
      Effect.tap(() => Effect.sync(() => {
        metadata.push(current)
        current = {}
      }))
    )
  const n = yield* next(steps.normalize(request))
  const c = yield* next(steps.split(n))
  const t = yield* next(steps.tokenize(c))
  const v = yield* next(steps.voice(t))
  const s = yield* next(steps.semantic(v))
  const co = yield* next(steps.coarse(s))
  const f = yield* next(steps.fine(co))
  const cd = yield* next(steps.codec(f))
  const p = yield* next(steps.post(cd))
  return yield* next(steps.encode(p))
})

type Scenario = "direct" | "lean" | "full"

const once = (scenario: Scenario): Effect.Effect<number> =>
  scenario === "direct"
    ? Effect.map(direct, (e) => e.bytes)
    : Effect.scoped(Runner.run(pipeline, { sinks: [MemorySink.make()], lean: scenario === "lean" })).pipe(
      Effect.map((ready) => Context.get(ready.context, Encoded).bytes),
      Effect.provideService(Request, request),
      Effect.orDie
    )

interface CaseResult {
  readonly scenario: Scenario
  readonly runs: number
  readonly batches: number
  readonly medianUs: number
  readonly p99Us: number
  readonly meanUs: number
}

const quantile = (sorted: ReadonlyArray<number>, q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!

/** One scenario, in this process: a warm-up, then batches of runs, each batch timed. */
const runCase = (scenario: Scenario) =>
  Effect.gen(function*() {
    const one = once(scenario)
    for (let i = 0; i < WARMUP; i++) yield* one
    const perRunUs: Array<number> = []
    let total = 0
    for (let b = 0; b < Math.ceil(RUNS / BATCH); b++) {
      const t0 = performance.now()
      for (let i = 0; i < BATCH; i++) total += yield* one
      perRunUs.push(((performance.now() - t0) * 1000) / BATCH)
    }
    if (total === 0) throw new Error("the chain produced nothing")
    const sorted = [...perRunUs].sort((a, b) => a - b)
    return {
      scenario,
      runs: perRunUs.length * BATCH,
      batches: perRunUs.length,
      medianUs: quantile(sorted, 0.5),
      p99Us: quantile(sorted, 0.99),
      meanUs: perRunUs.reduce((a, b) => a + b, 0) / perRunUs.length
    } satisfies CaseResult
  })

// ---------------------------------------------------------------------------
// The driver: each scenario in a fresh process, then the table.

const machine = () => {
  const lscpu = (() => {
    try {
      return execFileSync("lscpu", { encoding: "utf8" })
    } catch {
      return ""
    }
  })()
  const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, "m").exec(lscpu)?.[1]?.trim()
  const flags = (field("Flags") ?? "").split(/\s+/).filter((f) => f.length > 0)
  const simd = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "neon", "asimd", "sve"]
    .filter((f) => flags.includes(f))
  const nproc = (() => {
    try {
      return execFileSync("nproc", { encoding: "utf8" }).trim()
    } catch {
      return String(os.availableParallelism())
    }
  })()
  return {
    model: field("Model name") ?? os.cpus()[0]?.model.trim() ?? "unknown",
    flags: flags.length === 0 ? "unknown" : `${flags.length} flags; SIMD: ${simd.join(" ") || "none listed"}`,
    nproc,
    node: process.version
  }
}

const fmt = (us: number) => us.toFixed(1)

const main = () => {
  const self = fileURLToPath(import.meta.url)
  const scenarios: ReadonlyArray<Scenario> = ["direct", "lean", "full"]
  const results = new Map<Scenario, CaseResult>()
  for (const scenario of scenarios) {
    const out = execFileSync(process.execPath, [self, "--case", scenario, "--runs", String(RUNS), "--warmup", String(WARMUP), "--batch", String(BATCH)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"]
    })
    const result = JSON.parse(out.trim().split("\n").at(-1)!) as CaseResult
    results.set(scenario, result)
    console.error(`${scenario}: median ${fmt(result.medianUs)} µs/run, p99 ${fmt(result.p99Us)} µs/run`)
  }
  const base = results.get("direct")!
  const m = machine()
  const command = `node bench/runner-overhead.ts${process.argv.slice(2).length === 0 ? "" : ` ${process.argv.slice(2).join(" ")}`}`
  const rows = scenarios.map((s) => {
    const r = results.get(s)!
    const overhead = s === "direct" ? "—" : `${fmt(r.medianUs - base.medianUs)} (${fmt((r.medianUs - base.medianUs) / 10)} per stage)`
    return `| ${s} | ${r.runs} | ${fmt(r.medianUs)} | ${fmt(r.p99Us)} | ${fmt(r.meanUs)} | ${overhead} |`
  })
  const lean = results.get("lean")!
  const text = [
    "# bench/runner-overhead.ts",
    "",
    `\`${command}\` (each scenario in a fresh process; ${WARMUP} warm-up runs, then ${RUNS} runs in batches of ${BATCH})`,
    "",
    "A 10-stage pipeline of trivial stages (normalize → split → tokenize → voice → semantic → coarse → fine → codec → post → encode, each annotating its record), with a fresh in-memory sink per run, against the same ten effects composed directly.",
    "",
    "| scenario | runs | median µs/run | p99 µs/run | mean µs/run | runner overhead µs/request (median − direct) |",
    "|---|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    `Lean runner overhead per request: **${fmt(lean.medianUs - base.medianUs)} µs** (median; p99 of a lean run ${fmt(lean.p99Us)} µs).`,
    "",
    "What the lean run still does per stage: a record (outcome, attempts, metadata, warnings), the stage-started and stage-finished events, a span, and the stage's services provided to its build. A full run adds the environment probe (os.cpus(), memory) once, and per stage two RSS reads and the peak's reset and read through /proc/self (clear_refs, status).",
    "",
    `CPU: ${m.model} (${m.flags}), nproc ${m.nproc}, Node ${m.node}.`,
    ""
  ].join("\n")
  console.log(text)
  const file = path.join(path.dirname(self), "results", "runner-overhead.md")
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, text)
  console.error(`wrote ${path.relative(process.cwd(), file)}`)
}

if (values.case !== undefined) {
  const scenario = values.case as Scenario
  if (!["direct", "lean", "full"].includes(scenario)) throw new Error(`--case must be direct, lean or full, not ${values.case}`)
  Effect.runPromise(runCase(scenario)).then((r) => console.log(JSON.stringify(r)), (e) => {
    console.error(e)
    process.exitCode = 1
  })
} else {
  main()
}
