/**
 * A sink that writes one schema-checked JSON object per line. Lines go to a
 * temporary file next to the target while the run lasts and the file is
 * renamed into place when the scope closes, so a reader never sees a
 * half-written trace under the final name.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { TraceEvent } from "../TraceEvent.ts"
import { TraceLine } from "../TraceEvent.ts"
import type { TraceSink } from "../TraceSink.ts"

export class TraceFileError extends Schema.TaggedError<TraceFileError>()("TraceFileError", {
  file: Schema.String,
  message: Schema.String,
  remediation: Schema.String
}) {}

const encodeLine = Schema.encodeSync(TraceLine)

export const make = (file: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const target = path.resolve(file)
        fs.mkdirSync(path.dirname(target), { recursive: true })
        const temp = `${target}.${process.pid}.tmp`
        return { target, temp, fd: fs.openSync(temp, "w") }
      },
      catch: (e) =>
        new TraceFileError({
          file,
          message: `cannot write the trace file ${file}: ${(e as Error).message}`,
          remediation: "pass a --trace path in a writable directory"
        })
    }),
    ({ fd, target, temp }) =>
      Effect.sync(() => {
        fs.closeSync(fd)
        fs.renameSync(temp, target)
      })
  ).pipe(Effect.map(({ fd }): TraceSink => ({
    emit: (event: TraceEvent) => Effect.sync(() => void fs.writeSync(fd, `${encodeLine(event)}\n`))
  })))

/** Reads a trace file back, validating every line against the schema. */
export const read = (file: string) =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (e) =>
      new TraceFileError({
        file,
        message: `cannot read the trace file ${file}: ${(e as Error).message}`,
        remediation: "check the path given to --trace"
      })
  }).pipe(
    Effect.flatMap((text) =>
      Effect.forEach(
        text.split("\n").filter((line) => line.length > 0),
        (line, i) =>
          Schema.decodeUnknownEffect(TraceLine)(line).pipe(
            Effect.mapError((e) =>
              new TraceFileError({
                file,
                message: `line ${i + 1} of ${file} is not a trace event: ${e.message}`,
                remediation: "pass a file written by `bark-pipeline run --trace`"
              })
            )
          )
      )
    )
  )
