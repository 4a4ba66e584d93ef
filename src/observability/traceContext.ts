/**
 * W3C trace context (`traceparent`) for carrying one trace across a hand-off
 * that is not an HTTP call, such as a job queue: the producer stores
 * {@link currentTraceparent} with the job, and the worker runs the job under
 * {@link withParent}, so the worker's spans join the producer's trace (same
 * trace id, parented to the producer's span) instead of starting a new one.
 *
 * The header is `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`; the
 * flags' low bit says whether the trace is sampled. A value that does not parse
 * (missing, truncated, upper-case, all-zero ids, version `ff`) is ignored and
 * the effect runs as a new trace, as the W3C spec asks of a receiver.
 *
 * @since 0.4.0
 */
import { Effect, Option, Tracer } from "effect"
import { dual } from "effect/Function"

const header = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const zeroTrace = "0".repeat(32)
const zeroSpan = "0".repeat(16)
const traceId = /^[0-9a-f]{1,32}$/
const spanId = /^[0-9a-f]{16}$/

/**
 * The span a `traceparent` value names, or `None` when the value is not a
 * valid version-00 header (later versions are read by their first four fields,
 * as the spec allows).
 *
 * @since 0.4.0
 */
export const parse = (traceparent: string | undefined): Option.Option<Tracer.ExternalSpan> => {
  if (traceparent === undefined) return Option.none()
  const m = header.exec(traceparent.trim())
  if (m === null) return Option.none()
  const [, version, trace, span, flags, rest] = m as unknown as [string, string, string, string, string, string?]
  if (version === "ff" || (version === "00" && rest !== undefined)) return Option.none()
  if (trace === zeroTrace || span === zeroSpan) return Option.none()
  return Option.some(Tracer.externalSpan({ traceId: trace, spanId: span, sampled: (parseInt(flags, 16) & 1) === 1 }))
}

/**
 * The `traceparent` value for a span, or `undefined` when its ids are not W3C
 * ids (a span from another tracer with ids of its own format).
 *
 * @since 0.4.0
 */
export const format = (span: Tracer.AnySpan): string | undefined => {
  if (!traceId.test(span.traceId) || !spanId.test(span.spanId)) return undefined
  const trace = span.traceId.padStart(32, "0")
  if (trace === zeroTrace || span.spanId === zeroSpan) return undefined
  return `00-${trace}-${span.spanId}-${span.sampled ? "01" : "00"}`
}

/**
 * The current span as a `traceparent` value, `undefined` outside any span.
 * Inside {@link withParent} with no span of its own, it is the remote parent.
 *
 * @since 0.4.0
 */
export const currentTraceparent: Effect.Effect<string | undefined> = Effect.currentParentSpan.pipe(
  Effect.map(format),
  Effect.catch(() => Effect.succeed(undefined))
)

/**
 * Runs `self` with the span named by `traceparent` as its parent, so the spans
 * it starts continue that trace. With `undefined` or a malformed value it runs
 * `self` unchanged.
 *
 * @since 0.4.0
 */
export const withParent: {
  (traceparent: string | undefined): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, traceparent: string | undefined): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, traceparent: string | undefined): Effect.Effect<A, E, R> =>
    Option.match(parse(traceparent), {
      onNone: () => self,
      onSome: (parent) => Effect.withParentSpan(self, parent)
    })
)
