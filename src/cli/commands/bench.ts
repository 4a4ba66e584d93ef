/**
 * `bark-pipeline bench`: the generation benchmark (src/dev/bench.ts) on the
 * CPU backend — a model directory given with `--model`, or random weights at
 * suno/bark-small's dimensions, made in the cache on first use. Prints a
 * table, or with `--json` one JSON object on stdout.
 *
 * `--dtype fp32,int8,q4` compares weight types side by side: each runs in a
 * fresh process of its own (so each peak RSS is its own), run a second time
 * when the first had to convert the checkpoint, and the table has a column
 * per dtype (`--json`: an array of reports).
 *
 * @since 0.1.0
 */
import { Config, Console, Effect, Option, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { execFile } from "node:child_process"
import { type BenchReport, benchmark, defaultBenchOptions } from "../../dev/bench.ts"
import { type BatchBenchReport, type BatchStageFigures, benchmarkBatch } from "../../dev/batchBench.ts"
import { DTYPES, type Dtype } from "../../bark/dtype.ts"
import * as Settings from "../../bark/settings.ts"
import { InferenceBackend } from "../../onnx/InferenceBackend.ts"
import { CliExit, ExitCode } from "../CliExit.ts"

const count = (name: string, description: string, fallback: number) =>
  Flag.Int(name).pipe(Flag.withDescription(description), Flag.withDefault(fallback))

/** The table's rows: a label and the value of one report. */
const rows: ReadonlyArray<[string, (r: BenchReport) => string]> = [
  ["model", (r) => `${r.model} (${r.model_source})`],
  ["execution provider", (r) => `${r.execution_provider}, threads ${r.threads}, ${r.cores} cores`],
  ["dtype", (r) => `${r.dtype}, prepack ${r.prepack ? "on" : "off"}`],
  ["graph cache entry", (r) => `${r.cache_entry_mb} MB${r.convert_seconds > 0 ? `, converted in ${r.convert_seconds} s` : ""}`],
  ["load", (r) => `${r.load_seconds} s`],
  ["warm-up", (r) => `${r.warmup_seconds} s`],
  ["semantic", (r) => `${r.semantic.ms_per_token} ms/token (${r.semantic.tokens} tokens, first ${r.semantic.first_token_ms} ms), RTF ${r.semantic.rtf}`],
  ["coarse", (r) => `${r.coarse.ms_per_token} ms/token (${r.coarse.tokens} tokens, window prefills included), RTF ${r.coarse.rtf}`],
  ["fine", (r) => `${r.fine.seconds_per_pass} s/pass, ${r.fine.seconds_per_forward} s/forward (${r.fine.passes} passes, ${r.fine.frames} frames), RTF ${r.fine.rtf}`],
  ["codec", (r) => `${r.codec.seconds} s (${r.codec.frames} frames), RTF ${r.codec.rtf}`],
  ["end to end", (r) => `RTF ${r.rtf}`],
  ["peak RSS", (r) => `${r.peak_rss_mb} MB${r.model_source === "generated" || r.convert_seconds > 0 ? " (includes making the model; run again for the benchmark alone)" : ""}`]
]

export const formatReport = (r: BenchReport): string => rows.map(([k, v]) => `${k.padEnd(20)} ${v(r)}`).join("\n")

/** Short figures per dtype, one column each. */
const compared: ReadonlyArray<[string, (r: BenchReport) => string]> = [
  ["semantic ms/token", (r) => String(r.semantic.ms_per_token)],
  ["coarse ms/token", (r) => String(r.coarse.ms_per_token)],
  ["fine s/pass", (r) => String(r.fine.seconds_per_pass)],
  ["fine s/forward", (r) => String(r.fine.seconds_per_forward)],
  ["codec s", (r) => String(r.codec.seconds)],
  ["end-to-end RTF", (r) => String(r.rtf)],
  ["peak RSS MB", (r) => String(r.peak_rss_mb)],
  ["RSS after load MB", (r) => String(r.rss_after_load_mb)],
  ["load s", (r) => String(r.load_seconds)],
  ["cache entry MB", (r) => String(r.cache_entry_mb)],
  ["prepack", (r) => (r.prepack ? "on" : "off")]
]

export const formatComparison = (reports: ReadonlyArray<BenchReport>): string => {
  const first = reports[0]!
  const table = [["", ...reports.map((r) => r.dtype)], ...compared.map(([k, v]) => [k, ...reports.map(v)])]
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)))
  return [
    `model ${first.model}, ${first.execution_provider}, threads ${first.threads}, ${first.cores} cores; each dtype in a fresh process`,
    ...table.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "))
  ].join("\n")
}

/** `--batch 1,2,4,8`: the batch sizes, 1 first (the baseline each is compared with), or a usage error. */
const parseSizes = (raw: string) => {
  const sizes = raw.split(",").map((n) => Number(n.trim()))
  return sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 64)
    ? Effect.fail(new CliExit({ code: ExitCode.usage, message: `--batch ${raw}: expected batch sizes 1..64`, remediation: "e.g. --batch 1,2,4,8" }))
    : Effect.succeed(sizes[0] === 1 ? sizes : [1, ...sizes])
}

const formatBatch = (r: BatchBenchReport): string => {
  const line = (stage: string, f: BatchStageFigures) =>
    `${stage.padEnd(9)} ${String(f.batch).padStart(5)}  ${String(f.ms_per_step).padStart(11)}  ${String(f.tokens_per_second_aggregate).padStart(10)}  ${String(f.tokens_per_second_overall).padStart(10)}  ${f.identical_to_alone ? "yes" : "NO"}`
  return [
    `model ${r.model}, ${r.dtype}; per stage: N sequences decoded together, greedy`,
    "stage     batch  ms per step  tokens/s    overall     same as alone",
    ...r.semantic.map((f) => line("semantic", f)),
    ...r.coarse.map((f) => line("coarse", f)),
    `aggregate speed-up at the largest batch: semantic ${r.speedup.semantic}×, coarse ${r.speedup.coarse}×; peak RSS ${r.peak_rss_mb} MB`
  ].join("\n")
}

const Dtypes = Schema.Array(Schema.Literals(DTYPES))

/** `--dtype a,b`: the dtypes, in order, or a usage error. */
const parseDtypes = (raw: string) =>
  Schema.decodeUnknownEffect(Dtypes)(raw.split(",").map((d) => d.trim()).filter((d) => d !== "")).pipe(
    Effect.filterOrFail((ds) => ds.length > 0, () => undefined),
    Effect.mapError(() =>
      new CliExit({ code: ExitCode.usage, message: `--dtype ${raw}: expected one or more of ${DTYPES.join(", ")}`, remediation: "e.g. --dtype q4 or --dtype fp32,int8,q4" })
    )
  )

/** This command again in a child process, for one dtype, as JSON. */
const benchInChild = (args: ReadonlyArray<string>, dtype: Dtype) =>
  Effect.callback<BenchReport, CliExit>((resume) => {
    const argv = [...process.execArgv, process.argv[1]!, "bench", ...args, "--dtype", dtype, "--json"]
    execFile(process.execPath, argv, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        resume(Effect.fail(new CliExit({ code: ExitCode.fatal, message: `bench --dtype ${dtype} failed: ${stderr.trim().split("\n").slice(-2).join(" ")}`, remediation: `run bark-pipeline bench --dtype ${dtype} alone to see the whole error` })))
      } else resume(Effect.succeed(JSON.parse(stdout) as BenchReport))
    })
  })

export const command = Command.make(
  "bench",
  {
    model: Flag.String("model").pipe(
      Flag.withDescription("a Bark model directory; default random weights at bark-small size, made in the cache on first use"),
      Flag.optional
    ),
    dtype: Flag.String("dtype").pipe(
      Flag.withDescription(`weight type(s), comma-separated: ${DTYPES.join(", ")} (default BARK_DTYPE, else fp32); several run side by side, each in its own process`),
      Flag.optional
    ),
    semanticTokens: count("semantic-tokens", "semantic tokens to generate (EOS disabled), 1..768", defaultBenchOptions.semanticTokens),
    coarseTokens: count("coarse-tokens", "coarse tokens to generate, both codebooks counted", defaultBenchOptions.coarseTokens),
    finePasses: count("fine-passes", "fine passes, each the six codebook predictions over a 1024-frame window", defaultBenchOptions.finePasses),
    codecFrames: count("codec-frames", "frames (75 per second) for the codec to decode", defaultBenchOptions.codecFrames),
    threads: Flag.Int("threads").pipe(
      Flag.withDescription("onnxruntime intra-op threads (default: BARK_INTRA_OP_THREADS, else one per core)"),
      Flag.optional
    ),
    batch: Flag.String("batch").pipe(
      Flag.withDescription("batch sizes, comma-separated (e.g. 1,2,4,8): semantic and coarse decoding of N sequences together, aggregate tokens/s and ms per step"),
      Flag.optional
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("print the figures as one JSON object on stdout"), Flag.withDefault(false))
  },
  ({ json, model, threads, dtype, batch, ...work }) =>
    Effect.gen(function*() {
      // --threads wins over BARK_INTRA_OP_THREADS, as the CPU backend reads it.
      const t = Option.getOrUndefined(threads) ??
        Option.getOrUndefined(yield* Config.option(Config.Int("BARK_INTRA_OP_THREADS")))
      if (t !== undefined && t < 1) {
        return yield* new CliExit({ code: ExitCode.usage, message: `--threads ${t} must be at least 1`, remediation: "omit --threads for one per core" })
      }
      const dtypes = Option.isSome(dtype) ? yield* parseDtypes(dtype.value) : [yield* Settings.dtype]
      if (dtypes.length > 1) {
        const args = [
          ...(Option.isSome(model) ? ["--model", model.value] : []),
          ...(t === undefined ? [] : ["--threads", String(t)]),
          "--semantic-tokens", String(work.semanticTokens), "--coarse-tokens", String(work.coarseTokens),
          "--fine-passes", String(work.finePasses), "--codec-frames", String(work.codecFrames)
        ]
        const reports: Array<BenchReport> = []
        for (const d of dtypes) {
          yield* Console.error(`bench: ${d}…`)
          const first = yield* benchInChild(args, d)
          reports.push(first.convert_seconds > 0 || first.model_source === "generated" ? yield* benchInChild(args, d) : first)
        }
        return yield* Console.log(json ? JSON.stringify(reports, null, 2) : formatComparison(reports))
      }
      if (Option.isNone(model)) yield* Console.error("bench: using random weights at bark-small size (made in the cache on first use, about a minute)")
      if (Option.isSome(batch)) {
        const sizes = yield* parseSizes(batch.value)
        const report = yield* benchmarkBatch({
          sizes,
          semanticTokens: work.semanticTokens,
          coarseTokens: work.coarseTokens,
          model: Option.getOrUndefined(model),
          dtype: dtypes[0]
        }).pipe(
          Effect.provide(InferenceBackend.cpu(t === undefined ? {} : { intraOpNumThreads: t })),
          Effect.mapError((e) => new CliExit({ code: ExitCode.fatal, message: `bench --batch failed: ${e.message}`, remediation: "remediation" in e && typeof e.remediation === "string" ? e.remediation : "check --model and the cache" }))
        )
        return yield* Console.log(json ? JSON.stringify(report, null, 2) : formatBatch(report))
      }
      const report = yield* benchmark({ ...work, model: Option.getOrUndefined(model), threads: t, dtype: dtypes[0] }).pipe(
        Effect.provide(InferenceBackend.cpu(t === undefined ? {} : { intraOpNumThreads: t })),
        Effect.mapError((e) =>
          new CliExit({
            code: e._tag === "InvalidBenchOptions" ? ExitCode.usage : ExitCode.fatal,
            message: `bench failed: ${e.message}`,
            remediation: "remediation" in e && typeof e.remediation === "string"
              ? e.remediation
              : "check that --model is a Bark model directory (config.json, model.safetensors) and the cache is writable"
          })
        )
      )
      yield* Console.log(json ? JSON.stringify(report, null, 2) : formatReport(report))
    })
).pipe(Command.withDescription("measure generation speed: ms/token per stage, fine s/pass, codec s, real-time factor, peak RSS, per dtype"))
