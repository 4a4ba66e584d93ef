/**
 * `bark-pipeline bench`: the generation benchmark (src/bark/bench.ts) on the
 * CPU backend — a model directory given with `--model`, or random weights at
 * suno/bark-small's dimensions, made in the cache on first use. Prints a
 * table, or with `--json` one JSON object on stdout.
 *
 * @since 0.1.0
 */
import { Config, Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { type BenchReport, benchmark, defaultBenchOptions } from "../../bark/bench.ts"
import { InferenceBackend } from "../../onnx/InferenceBackend.ts"
import { CliExit, ExitCode } from "../CliExit.ts"

const count = (name: string, description: string, fallback: number) =>
  Flag.Int(name).pipe(Flag.withDescription(description), Flag.withDefault(fallback))

export const formatReport = (r: BenchReport): string => {
  const rows: Array<[string, string]> = [
    ["model", `${r.model} (${r.model_source})`],
    ["execution provider", `${r.execution_provider}, threads ${r.threads}, ${r.cores} cores`],
    ["load", `${r.load_seconds} s`],
    ["warm-up", `${r.warmup_seconds} s`],
    [
      "semantic",
      `${r.semantic.tokens} tokens in ${r.semantic.seconds} s: first ${r.semantic.first_token_ms} ms, then ${r.semantic.ms_per_token} ms/token, RTF ${r.semantic.rtf}`
    ],
    ["coarse", `${r.coarse.tokens} tokens in ${r.coarse.seconds} s: ${r.coarse.ms_per_token} ms/token (window prefills included), RTF ${r.coarse.rtf}`],
    ["fine", `${r.fine.passes} passes (${r.fine.frames} frames) in ${r.fine.seconds} s: ${r.fine.seconds_per_pass} s/pass, RTF ${r.fine.rtf}`],
    ["codec", `${r.codec.frames} frames in ${r.codec.seconds} s, RTF ${r.codec.rtf}`],
    ["end to end", `RTF ${r.rtf} (compute seconds per second of audio)`],
    ["peak RSS", `${r.peak_rss_mb} MB${r.model_source === "generated" ? " (includes making the random model; run again for the benchmark alone)" : ""}`]
  ]
  return rows.map(([k, v]) => `${k.padEnd(20)} ${v}`).join("\n")
}

export const command = Command.make(
  "bench",
  {
    model: Flag.String("model").pipe(
      Flag.withDescription("a Bark model directory; default random weights at bark-small size, made in the cache on first use"),
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
    json: Flag.Boolean("json").pipe(Flag.withDescription("print the figures as one JSON object on stdout"), Flag.withDefault(false))
  },
  ({ json, model, threads, ...work }) =>
    Effect.gen(function*() {
      // --threads wins over BARK_INTRA_OP_THREADS, as the CPU backend reads it.
      const t = Option.getOrUndefined(threads) ??
        Option.getOrUndefined(yield* Config.option(Config.Int("BARK_INTRA_OP_THREADS")))
      if (t !== undefined && t < 1) {
        return yield* new CliExit({ code: ExitCode.usage, message: `--threads ${t} must be at least 1`, remediation: "omit --threads for one per core" })
      }
      if (Option.isNone(model)) yield* Console.error("bench: using random weights at bark-small size (made in the cache on first use, about a minute)")
      const report = yield* benchmark({ ...work, model: Option.getOrUndefined(model), threads: t }).pipe(
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
).pipe(Command.withDescription("measure generation speed: ms/token per stage, fine s/pass, codec s, real-time factor, peak RSS"))
