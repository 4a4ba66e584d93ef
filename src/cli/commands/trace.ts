/**
 * `bark-pipeline trace <file.jsonl> [--out file.svg]`: draws a finished run's
 * trace (written by `run --trace`) as an SVG stage timeline with the RSS
 * curve underneath. The picture is written atomically, next to the trace by
 * default.
 *
 * @since 0.1.0
 */
import { writeAtomic } from "../../files/writeAtomic.ts"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as JsonlSink from "../../pipeline/sinks/jsonl.ts"
import * as Timeline from "../../pipeline/timeline.ts"
import { CliExit, ExitCode, usage } from "../CliExit.ts"

/** `run.jsonl` → `run.svg`; any other name gets `.svg` appended. */
export const defaultOutput = (trace: string): string =>
  trace.endsWith(".jsonl") ? `${trace.slice(0, -".jsonl".length)}.svg` : `${trace}.svg`

/** Reads and validates a trace file, renders it and writes the SVG via a temporary file. */
export const renderFile = Effect.fn("renderFile")(function*(trace: string, out: string) {
  const events = yield* JsonlSink.read(trace)
  const timeline = yield* Timeline.fromTrace(events)
  yield* writeAtomic(out, Timeline.toSvg(timeline))
  return timeline
})

export const command = Command.make(
  "trace",
  {
    file: Argument.String("file").pipe(Argument.withDescription("a trace written by `run --trace` (JSON Lines)")),
    out: Flag.String("out").pipe(Flag.withDescription("where to write the SVG (default: the trace's path with .svg)"), Flag.optional)
  },
  ({ file, out }) => {
    const target = Option.getOrElse(out, () => defaultOutput(file))
    return renderFile(file, target).pipe(
      Effect.catchTags({
        TraceFileError: (e) => Effect.fail(usage(e.message, e.remediation)),
        TimelineError: (e) => Effect.fail(usage(e.message, e.remediation)),
        PlatformError: (e) =>
          Effect.fail(
            new CliExit({
              code: ExitCode.fatal,
              message: `cannot write ${target}: ${e.message}`,
              remediation: "pass --out a path in an existing, writable directory"
            })
          )
      }),
      Effect.flatMap((timeline) =>
        Console.log(`wrote ${target}: ${timeline.stages.length} stages, ${timeline.pipeline} ${timeline.outcome} in ${
          Timeline.formatDuration(timeline.durationMs)
        }`)
      )
    )
  }
).pipe(Command.withDescription("draw a run's trace as an SVG stage timeline with memory use"))
