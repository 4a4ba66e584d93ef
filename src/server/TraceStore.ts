/**
 * The traces of the service's most recent synthesis requests, in memory,
 * by request id: `GET /v1/traces/{id}` reads them. At most BARK_TRACE_KEEP
 * are kept (default 100; 0 keeps none); a new one pushes out the oldest.
 * A request that reuses an id replaces the trace kept under it. Nothing is
 * written to disk, and a restart forgets them all: traces are for looking
 * at a request just answered, metrics and spans for the long run.
 *
 * @since 0.5.0
 */
import * as SynthesisTrace from "../observability/synthesisTrace.ts"

export interface TraceStore {
  /** How many traces are kept. */
  readonly keep: number
  /** Starts recording a request's trace (kept unless `keep` is 0). */
  readonly begin: (id: string, route: string) => SynthesisTrace.Recorder
  /** The trace kept under an id. */
  readonly get: (id: string) => SynthesisTrace.Recorder | undefined
  /** How many are kept now. */
  readonly size: () => number
}

export const make = (keep: number): TraceStore => {
  const traces = new Map<string, SynthesisTrace.Recorder>()
  return {
    keep,
    begin: (id, route) => {
      const recorder = SynthesisTrace.recorder({ id, route })
      if (keep <= 0) return recorder
      // Deleted first, so that a reused id counts as the newest.
      traces.delete(id)
      traces.set(id, recorder)
      for (const oldest of traces.keys()) {
        if (traces.size <= keep) break
        traces.delete(oldest)
      }
      return recorder
    },
    get: (id) => traces.get(id),
    size: () => traces.size
  }
}
