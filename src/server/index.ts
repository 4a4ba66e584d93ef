/**
 * `bark-pipeline/server`: the synthesis service around any startup recipe —
 * `start` listens first (health answers while the models load), runs the
 * recipe and serves its engine until drained; `recipe` is the same service as
 * a pipeline of stages, for composing by hand. `startWorker` and
 * `workerRecipe` do the same for a job worker; `JobQueue.make` enqueues and
 * follows jobs from any program.
 *
 * ```ts
 * import { Server } from "bark-pipeline/server"
 * import { recipes } from "bark-pipeline/bark"
 * const running = yield* Server.start(recipes.cpu, { config: { BARK_PORT: "8000" } })
 * ```
 *
 * @since 0.3.0
 */
export * as Server from "./Server.ts"
export { HttpListener, listen, recipe, serve, SynthesisService, workerRecipe } from "./stages.ts"
export * as JobQueue from "../jobs/JobQueue.ts"
export * as JobRequest from "../jobs/JobRequest.ts"
export * as JobSettings from "../jobs/settings.ts"
export * as ResultsStore from "../jobs/ResultsStore.ts"
export { jobs, JobsConnection, JobsWorker, worker } from "./jobStages.ts"
