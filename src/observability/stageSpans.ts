/**
 * Spans for the stages of a synthesis, made from its trace events: one
 * span `synthesis.<stage>` per stage run (`synthesis.split`,
 * `synthesis.semantic`, `synthesis.mock-audio`, …), a child of the span
 * current when the synthesis started (the request's or the job's), opened
 * at the stage's `stage-started` event and closed at its `stage-finished`
 * with the stage's outcome. Attributes:
 *
 * - `bark.pipeline` (`synthesis/chunk`), `bark.stage`, `bark.outcome`
 *   (`succeeded`, `warned`, `skipped`, `failed`);
 * - `bark.chunk` (from 0) when the stage ran in a chunk run;
 * - `bark.<key>` for each number and boolean of the stage's metadata
 *   (`bark.tokens`, `bark.samples`, …; strings are left out, they may hold
 *   text);
 * - `bark.error` (the error's tag) and the span's error status, for a failed stage;
 *   a warning is a span event `warning` with its message and remediation.
 *
 * The trace events are the one record every engine delivers to the fiber
 * that asked (the worker-thread engine runs the stages on another thread,
 * whose spans are not exported), so the spans are made here, as
 * ./progressSpans.ts makes the generation steps'. A stage's events are
 * matched by their run label, which the synthesis runner sets on every
 * event (./synthesisTrace.ts), and the stage's name.
 *
 * @since 0.5.0
 */
import { Clock, Effect, Exit, Option } from "effect"
import type { Tracer } from "effect"
import type { TraceEvent } from "../pipeline/TraceEvent.ts"
import * as SynthesisTrace from "./synthesisTrace.ts"

/**
 * The spans of one synthesis: pass `onTrace` to the engine, call `end` with its exit.
 *
 * @since 0.5.0
 */
export interface StageSpans {
  readonly onTrace: (event: TraceEvent) => Effect.Effect<void>
  /** Closes the spans of stages still running (the synthesis was interrupted or failed around them) with its exit. */
  readonly end: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
}

/**
 * The span name of a stage: `synthesis.<stage>`.
 *
 * @since 0.5.0
 */
export const spanName = (stage: string): string => `synthesis.${stage}`

const key = (run: string | undefined, stage: string) => `${run ?? ""}/${stage}`

/** A failed stage's error, as the span's exit: its tag is the exception type, its message the status message. */
const failure = (error: { readonly tag: string; readonly message: string }) =>
  Exit.fail(Object.assign(new Error(error.message), { name: error.tag }))

/**
 * Spans for a synthesis about to start, children of the current span.
 *
 * @since 0.5.0
 */
export const make: Effect.Effect<StageSpans> = Effect.gen(function*() {
  const parent = Option.getOrUndefined(yield* Effect.option(Effect.currentSpan))
  const open = new Map<string, Tracer.Span>()

  const onTrace = (event: TraceEvent) =>
    Effect.gen(function*() {
      const chunk = SynthesisTrace.chunkOf(event.run)
      switch (event.type) {
        case "stage-started": {
          const span = yield* Effect.makeSpan(spanName(event.stage), {
            ...(parent === undefined ? {} : { parent }),
            attributes: {
              "bark.pipeline": SynthesisTrace.pipelineOf(event.run),
              "bark.stage": event.stage,
              ...(chunk === null ? {} : { "bark.chunk": chunk })
            }
          })
          open.set(key(event.run, event.stage), span)
          return
        }
        case "warning": {
          const span = open.get(key(event.run, event.stage))
          span?.event("warning", yield* Clock.currentTimeNanos, {
            message: event.message,
            ...(event.remediation === undefined ? {} : { remediation: event.remediation })
          })
          return
        }
        case "stage-finished": {
          const result = event.result
          const k = key(event.run, result.stage)
          const span = open.get(k)
          if (span === undefined) return
          open.delete(k)
          for (const [name, value] of Object.entries(result.metadata)) {
            if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean") span.attribute(`bark.${name}`, value)
          }
          // Set after the metadata, so that a metadata key cannot hide them.
          span.attribute("bark.stage", result.stage)
          span.attribute("bark.outcome", result.outcome)
          if (chunk !== null) span.attribute("bark.chunk", chunk)
          if (result.error !== undefined) span.attribute("bark.error", result.error.tag)
          span.end(yield* Clock.currentTimeNanos, result.error === undefined ? Exit.void : failure(result.error))
          return
        }
        default:
          return
      }
    })

  const end = (exit: Exit.Exit<unknown, unknown>) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeNanos
      for (const span of open.values()) span.end(now, exit)
      open.clear()
    })

  return { onTrace, end }
})
