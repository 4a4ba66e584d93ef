/**
 * How hard the client tries: retries with exponential backoff for transient
 * failures (5xx, timeouts, reset connections), never for 4xx, and the timeouts
 * that turn a stalled connection into a retryable failure.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule } from "effect"
import type { HubError } from "./HubError.ts"

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly times: number
  /** First backoff delay; doubles on every retry. */
  readonly baseDelay: Duration.Input
  /** Longest wait for a response's headers. */
  readonly requestTimeout: Duration.Input
  /** Longest wait for the next chunk of a response body. */
  readonly idleTimeout: Duration.Input
}

export const defaultRetryPolicy: RetryPolicy = {
  times: 5,
  baseDelay: Duration.seconds(1),
  requestTimeout: Duration.seconds(30),
  idleTimeout: Duration.seconds(60)
}

/** Only "network" failures are transient; everything else is final. */
const isTransient = (error: HubError): boolean => error.reason === "network"

export const retryTransient = (policy: RetryPolicy) => <A, R>(effect: Effect.Effect<A, HubError, R>) =>
  effect.pipe(
    Effect.retry({
      schedule: Schedule.exponential(policy.baseDelay),
      times: policy.times,
      while: isTransient
    })
  )
