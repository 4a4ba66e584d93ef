/**
 * A sink that keeps every event in memory, for tests and for callers that
 * inspect a run afterwards.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { TraceEvent } from "../TraceEvent.ts"
import type { TraceSink } from "../TraceSink.ts"

export interface MemorySink extends TraceSink {
  readonly events: ReadonlyArray<TraceEvent>
}

export const make = (): MemorySink => {
  const events: Array<TraceEvent> = []
  return { events, emit: (event) => Effect.sync(() => void events.push(event)) }
}
