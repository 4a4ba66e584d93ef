/**
 * `bark-pipeline run <pipeline>`: runs a recipe with the console view on
 * stderr, optionally a JSON Lines trace and the report as JSON on stdout.
 *
 * @since 0.1.0
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Otlp from "../../observability/otlp.ts"
import * as Runner from "../../pipeline/Runner.ts"
import * as ConsoleSink from "../../pipeline/sinks/console.ts"
import * as JsonlSink from "../../pipeline/sinks/jsonl.ts"
import type { TraceSink } from "../../pipeline/TraceSink.ts"
import { DTYPES, type Dtype } from "../../bark/dtype.ts"
import * as Environment from "../../bark/stages/environment.ts"
import * as SynthesisLoad from "../../bark/synthesis/load.ts"
import { fromPipelineFailure, usage } from "../CliExit.ts"
import * as Pipelines from "../pipelines.ts"

export const pipelineArgument = Argument.String("pipeline").pipe(
  Argument.withDescription("a pipeline name from pipelines/ (see `list`) or a path to a module exporting a Pipeline")
)

/** `--dtype`: the weight type (same as --set BARK_DTYPE=…). */
export const dtypeFlag = Flag.Literals("dtype", DTYPES).pipe(
  Flag.withDescription(`weight type: ${DTYPES.join(", ")} (same as --set BARK_DTYPE=…; default fp32)`),
  Flag.optional
)

/** `set` with BARK_DTYPE from `--dtype` when given (the flag wins). */
export const withDtype = (set: Readonly<Record<string, string>>, dtype: Option.Option<Dtype>): Readonly<Record<string, string>> =>
  Option.isSome(dtype) ? { ...set, BARK_DTYPE: dtype.value } : set

/** `--synthesis`: the synthesis recipe every request runs (same as --set BARK_SYNTHESIS=…). */
export const synthesisFlag = Flag.String("synthesis").pipe(
  Flag.withDescription("the synthesis recipe requests run: synthesis (default), draft, or a module path (same as --set BARK_SYNTHESIS=…)"),
  Flag.optional
)

/**
 * `set` with BARK_SYNTHESIS from `--synthesis` when given, after checking
 * that the recipe loads (an unknown name or a bad module is a usage error).
 */
export const withSynthesis = (set: Readonly<Record<string, string>>, synthesis: Option.Option<string>) =>
  Option.isNone(synthesis)
    ? Effect.succeed(set)
    : SynthesisLoad.load(synthesis.value).pipe(
      Effect.mapError((e) => usage(e.message, e.remediation)),
      Effect.as({ ...set, BARK_SYNTHESIS: synthesis.value })
    )

export const setFlag = Flag.KeyValuePair("set").pipe(
  Flag.withDescription("override a config value, e.g. --set BARK_DEVICE=cpu (repeatable)"),
  Flag.withDefault({})
)

/** Runs a pipeline value with the CLI's sinks; shared by `run` and the commands built on recipes. */
export const runPipeline = (
  nameOrPath: string,
  options: { readonly trace: Option.Option<string>; readonly json: boolean; readonly set: Readonly<Record<string, string>> }
) =>
  Effect.gen(function*() {
    const pipeline = yield* Pipelines.resolve(nameOrPath)
    const sinks: Array<TraceSink> = [ConsoleSink.make()]
    if (Option.isSome(options.trace)) sinks.push(yield* JsonlSink.make(options.trace.value))
    const result = yield* Effect.result(
      Runner.run(pipeline, { sinks, config: options.set, probes: [Environment.probe] }).pipe(Effect.provide(Otlp.layerOrWarn))
    )
    const report = result._tag === "Success" ? result.success.report : result.failure.report
    if (options.json) yield* Console.log(JSON.stringify(report, null, 2))
    if (result._tag === "Failure") return yield* fromPipelineFailure(result.failure)
    return result.success
  })

export const command = Command.make(
  "run",
  {
    pipeline: pipelineArgument,
    trace: Flag.String("trace").pipe(Flag.withDescription("write the trace as JSON Lines to this file"), Flag.optional),
    json: Flag.Boolean("json").pipe(Flag.withDescription("print the report as JSON on stdout"), Flag.withDefault(false)),
    out: Flag.String("out").pipe(
      Flag.withDescription("the audio file of recipes that write one, e.g. the demo (same as --set BARK_DEMO_OUT=FILE)"),
      Flag.optional
    ),
    dtype: dtypeFlag,
    set: setFlag
  },
  ({ pipeline, trace, json, out, dtype, set }) =>
    Effect.scoped(
      runPipeline(pipeline, { trace, json, set: withDtype(Option.isSome(out) ? { BARK_DEMO_OUT: out.value, ...set } : set, dtype) })
    )
).pipe(Command.withDescription("run a pipeline and report every stage"))

