/**
 * Admission control in front of the engine: at most `maxConcurrency`
 * generations run at once and at most `maxQueue` requests wait for a slot
 * (first come, first served). A request beyond that is rejected at once with
 * 429 and Retry-After; one that waits longer than the deadline gets 503.
 * Interrupting a request (the client went away) frees its place or its slot.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Duration, Effect, Option, Semaphore } from "effect"
import { ApiError } from "./ApiError.ts"

export interface AdmissionOptions {
  readonly maxConcurrency: number
  readonly maxQueue: number
  /** Longest wait for a slot. */
  readonly timeout: Duration.Input
}

export interface Admission {
  /**
   * Takes a generation slot for the rest of the scope: now, or after waiting
   * in the queue. The HTTP request's scope ends after the last byte of the
   * response, so a streamed response keeps its slot while it streams.
   */
  readonly acquire: Effect.Effect<void, ApiError, Scope.Scope>
  /** Requests waiting for a slot. */
  readonly queued: () => number
  /** Requests holding a slot. */
  readonly inFlight: () => number
}

export const make = (options: AdmissionOptions): Effect.Effect<Admission> =>
  Effect.gen(function*() {
    const slots = yield* Semaphore.make(options.maxConcurrency)
    const timeout = Duration.fromInputUnsafe(options.timeout)
    let queued = 0
    let inFlight = 0
    const retryAfterS = Math.max(1, Math.ceil(Duration.toSeconds(timeout) / 4))

    const full = () =>
      new ApiError({
        status: 429,
        tag: "QueueFull",
        message: `the service is busy: ${inFlight} generation(s) running and ${queued} request(s) waiting (BARK_MAX_QUEUE=${options.maxQueue})`,
        remediation: `retry after ${retryAfterS} s, or raise BARK_MAX_QUEUE / BARK_MAX_CONCURRENCY, or add replicas`,
        headers: { "retry-after": String(retryAfterS) }
      })
    const expired = () =>
      new ApiError({
        status: 503,
        tag: "QueueTimeout",
        message: `the request waited ${Duration.format(timeout)} for a generation slot (BARK_REQUEST_TIMEOUT_S) and was dropped`,
        remediation: "retry later, send shorter texts, or raise BARK_REQUEST_TIMEOUT_S / BARK_MAX_CONCURRENCY",
        headers: { "retry-after": String(retryAfterS) }
      })

    const acquire = Effect.gen(function*() {
      if (inFlight >= options.maxConcurrency && queued >= options.maxQueue) return yield* full()
      queued++
      const slot = yield* Semaphore.takeScoped(slots, 1).pipe(
        Effect.timeoutOption(timeout),
        Effect.ensuring(Effect.sync(() => void queued--))
      )
      if (Option.isNone(slot)) return yield* expired()
      inFlight++
      yield* Effect.addFinalizer(() => Effect.sync(() => void inFlight--))
    })

    return { acquire, queued: () => queued, inFlight: () => inFlight }
  })
