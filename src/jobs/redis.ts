/**
 * The Redis connections of the job queue (ioredis, as BullMQ uses it), each
 * closed with its scope. Kept out of the modules the package exports:
 * ioredis's own type declarations do not check without `skipLibCheck`.
 *
 * @since 0.4.0
 */
import { Effect } from "effect"
import { Redis } from "ioredis"

/** Reconnect with backoff: 100 ms doubling to 5 s, forever. */
const retryStrategy = (times: number) => Math.min(100 * 2 ** Math.min(times, 6), 5000)

/** A Redis connection to BARK_REDIS_URL, closed with the scope. */
export const redis = (url: string, options: { readonly worker: boolean }) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const client = new Redis(url, {
        // Workers block on Redis and wait through reconnects; producers give up on a command after one retry
        // (and JobQueue calls nothing while disconnected), so requests are not held.
        maxRetriesPerRequest: options.worker ? null : 1,
        retryStrategy,
        connectionName: `bark-pipeline-${options.worker ? "worker" : "api"}-${process.pid}`
      })
      let lastError: string | undefined
      client.on("error", (e: Error) => {
        lastError = e.message
      })
      client.on("ready", () => {
        lastError = undefined
      })
      return { client, lastError: () => lastError }
    }),
    ({ client }) => Effect.promise(() => client.quit().catch(() => client.disconnect()))
  )

