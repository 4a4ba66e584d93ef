/**
 * How a command ends with a specific exit code: 0 success (warnings allowed),
 * 1 a fatal stage failure, 2 a usage or configuration error.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Exit, Option, Schema } from "effect"
import type { Teardown } from "effect/Runtime"

export const ExitCode = { ok: 0, fatal: 1, usage: 2, interrupted: 130 } as const

export class CliExit extends Schema.TaggedError<CliExit>()("CliExit", {
  code: Schema.Number,
  message: Schema.String,
  remediation: Schema.String
}) {}

export const usage = (message: string, remediation: string) => new CliExit({ code: ExitCode.usage, message, remediation })

/**
 * Set by a command that handled a stop signal cleanly (the service after it
 * drained): the runtime reports the interruption, but the process should exit 0.
 */
let gracefulStop = false
export const markGracefulStop = Effect.sync(() => {
  gracefulStop = true
})

/** Maps the program's exit to a process exit code; CLI parse errors are usage errors. */
export const teardown: Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit)) return onExit(ExitCode.ok)
  if (Cause.hasInterruptsOnly(exit.cause)) return onExit(gracefulStop ? ExitCode.ok : ExitCode.interrupted)
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isSome(error)) {
    const e = error.value as { readonly _tag?: string; readonly code?: number; readonly errors?: ReadonlyArray<unknown> }
    if (e._tag === "CliExit" && typeof e.code === "number") return onExit(e.code)
    if (e._tag === "ShowHelp") return onExit((e.errors?.length ?? 0) > 0 ? ExitCode.usage : ExitCode.ok)
    if (e._tag === "ConfigError") return onExit(ExitCode.usage)
  }
  return onExit(ExitCode.fatal)
}

/** Failures caused by what the user asked for (the recipe, its config, the request), not by a stage. */
const usageTags = new Set(["ConfigError", "PipelineOrder", "InvalidRequest"])

/** A failed pipeline as a CLI exit: 2 when the recipe, its config or the request is at fault, 1 when a stage failed. */
export const fromPipelineFailure = (failure: { readonly errorTag: string; readonly message: string; readonly remediation: string }) =>
  new CliExit({
    code: usageTags.has(failure.errorTag) ? ExitCode.usage : ExitCode.fatal,
    message: failure.message,
    remediation: failure.remediation
  })
