/**
 * Where trace events go. A sink is a plain record of effects so that a
 * recipe, a test or the CLI can combine any number of them.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import type { TraceEvent } from "./TraceEvent.ts"

export interface TraceSink {
  readonly emit: (event: TraceEvent) => Effect.Effect<void>
}
