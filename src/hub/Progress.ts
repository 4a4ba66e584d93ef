/**
 * Download progress for a caller-supplied callback, throttled per file so a
 * fast transfer does not flood it: at most one event per interval, plus a
 * final one when the file completes.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"

export interface ProgressEvent {
  /** Repository-relative file name. */
  readonly file: string
  /** Bytes of the file on disk so far, including a resumed part. */
  readonly bytes: number
  /** Size of the file, when known. */
  readonly total: number | undefined
  /** Transfer rate of this download so far. */
  readonly bytesPerSecond: number
  /** Seconds left at that rate, when the total is known. */
  readonly etaSeconds: number | undefined
}

export type OnProgress = (event: ProgressEvent) => Effect.Effect<void>

export interface ProgressReporter {
  /** Reports that the file now has `bytes` bytes; throttled. */
  readonly update: (bytes: number) => Effect.Effect<void>
  /** Reports the final state, unthrottled. */
  readonly done: (bytes: number) => Effect.Effect<void>
}

const silent: ProgressReporter = { update: () => Effect.void, done: () => Effect.void }

export const progressReporter = Effect.fn("progressReporter")(function*(options: {
  readonly file: string
  readonly total: number | undefined
  /** Bytes already on disk when this transfer started (not counted in the rate). */
  readonly startBytes: number
  readonly onProgress: OnProgress | undefined
  readonly intervalMillis?: number
}) {
  const { file, total, startBytes, onProgress } = options
  if (onProgress === undefined) return silent
  const interval = options.intervalMillis ?? 100
  const started = yield* Clock.currentTimeMillis
  let lastEmit = Number.NEGATIVE_INFINITY
  const emit = (bytes: number, now: number) => {
    lastEmit = now
    const seconds = Math.max((now - started) / 1000, 1e-3)
    const bytesPerSecond = Math.max(bytes - startBytes, 0) / seconds
    const remaining = total === undefined ? undefined : Math.max(total - bytes, 0)
    const etaSeconds = remaining === undefined
      ? undefined
      : remaining === 0
      ? 0
      : bytesPerSecond > 0
      ? remaining / bytesPerSecond
      : undefined
    return onProgress({ file, bytes, total, bytesPerSecond, etaSeconds })
  }
  const reporter: ProgressReporter = {
    update: (bytes) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => now - lastEmit >= interval ? emit(bytes, now) : Effect.void),
    done: (bytes) => Effect.flatMap(Clock.currentTimeMillis, (now) => emit(bytes, now))
  }
  return reporter
})
