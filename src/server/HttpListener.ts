/**
 * The service the `listen` stage provides: the HTTP server, listening, with
 * the state its routes read and the drain for a graceful stop. Its own module
 * so that stages which hook into the server (jobs, workers) need not import
 * the serve recipe.
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import type { Effect } from "effect"
import type { ServerStateShape } from "./ServerState.ts"

/** listen: the HTTP server, listening. */
export class HttpListener extends Context.Service<HttpListener, {
  readonly url: string
  readonly state: ServerStateShape
  /**
   * Stops taking requests (readiness 503, listener closed), lets in-flight
   * requests finish for up to BARK_SHUTDOWN_GRACE_S, then cancels the rest.
   */
  readonly drain: Effect.Effect<void>
}>()("bark-pipeline/HttpListener") {}
