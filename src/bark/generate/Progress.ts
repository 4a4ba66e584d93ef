/**
 * Progress reporting of a generation stage: called after each unit of work
 * (a token, a codebook pass) with how much is done out of an upper bound.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"

/** `batch`: the sequences decoded in the step that made this token (1 alone). */
export type Progress = (done: number, total: number, batch?: number) => Effect.Effect<void>

/** Reports to `progress` when one is given. */
export const report = (progress: Progress | undefined, done: number, total: number, batch?: number): Effect.Effect<void> =>
  progress === undefined ? Effect.void : progress(done, total, batch)
