/**
 * Spans for the steps of a generation, made from the engine's progress
 * events: one span per long-form chunk and stage (`generate semantic`,
 * `generate coarse`, …), a child of the span current when the generation
 * started, carrying the chunk, the stage and the tokens done. Progress
 * events are the one thing every engine reports from wherever it runs (the
 * worker-thread engine generates on another thread, out of reach of this
 * thread's tracer), so the spans are made here. A step's span opens at its
 * first event and closes at the next step's first event or at the end.
 *
 * @since 0.4.0
 */
import { Clock, Effect, Exit, Option } from "effect"
import type { Tracer } from "effect"
import type { SynthesisProgress } from "../bark/engine/BarkEngine.ts"

export interface ProgressSpans {
  readonly onProgress: (progress: SynthesisProgress) => Effect.Effect<void>
  /** Closes the last step's span with the generation's outcome. */
  readonly end: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
}

export const make: Effect.Effect<ProgressSpans> = Effect.gen(function*() {
  const parent = Option.getOrUndefined(yield* Effect.option(Effect.currentSpan))
  let open: { readonly key: string; readonly span: Tracer.Span } | undefined

  const close = (exit: Exit.Exit<unknown, unknown>) =>
    Effect.gen(function*() {
      if (open === undefined) return
      const span = open.span
      open = undefined
      span.end(yield* Clock.currentTimeNanos, exit)
    })

  const onProgress = (p: SynthesisProgress) =>
    Effect.gen(function*() {
      const key = `${p.chunk}/${p.stage}`
      if (open?.key !== key) {
        yield* close(Exit.void)
        const span = yield* Effect.makeSpan(`generate ${p.stage}`, {
          ...(parent === undefined ? {} : { parent }),
          attributes: { "bark.chunk": p.chunk, "bark.chunks": p.chunks, "bark.stage": p.stage }
        })
        open = { key, span }
      }
      open!.span.attribute("bark.done", p.done)
      open!.span.attribute("bark.total", p.total)
    })

  return { onProgress, end: close }
})

/** Both progress callbacks, in order. */
export const both = (
  a: (p: SynthesisProgress) => Effect.Effect<void>,
  b: (p: SynthesisProgress) => Effect.Effect<void>
) =>
(p: SynthesisProgress) => Effect.andThen(a(p), b(p))
