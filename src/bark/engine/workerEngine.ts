/**
 * The Bark engine on a worker thread. onnxruntime-node's `run` blocks the
 * calling thread for a whole model call (seconds for a fine pass at
 * bark-small size), so a server that must keep answering health checks runs
 * generation elsewhere: the worker (./worker.ts) loads its own sessions from
 * the model files and runs the in-process engine; this client has the same
 * `BarkEngine` interface, relays chunks and progress as they arrive, and
 * cancels the worker's generation when a stream is interrupted.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Queue, Schema, Stream } from "effect"
import { Worker } from "node:worker_threads"
import { collectSynthesis } from "./assemble.ts"
import { type AudioChunk, BarkEngine, SynthesisError, type SynthesisOptions } from "./BarkEngine.ts"
import type { ErrorData, FromWorker, RequestEvent, ToWorker, WorkerSpec } from "./workerProtocol.ts"

export type { WorkerSpec } from "./workerProtocol.ts"

/** The worker could not load the model, or died while loading it. */
export class WorkerEngineError extends Schema.TaggedError<WorkerEngineError>()("WorkerEngineError", {
  message: Schema.String,
  remediation: Schema.String
}) {}

/** How long `close` waits for the worker to release its sessions before terminating it. */
const CLOSE_GRACE_MS = 10_000

// ./worker.ts in a checkout, ./worker.js in the built package: the extension of this very module.
const workerUrl = new URL(`./worker${import.meta.url.slice(import.meta.url.lastIndexOf("."))}`, import.meta.url)

const describeExit = (code: number) => `the engine worker exited with code ${code}`

/** Starts the worker and waits until its models are loaded; the worker is closed with the scope. */
export const makeWorkerEngine = Effect.fn("makeWorkerEngine")(function*(spec: WorkerSpec) {
  const worker = yield* Effect.acquireRelease(
    Effect.sync(() => new Worker(workerUrl, { workerData: spec })),
    (worker) =>
      Effect.callback<void>((resume) => {
        worker.once("exit", () => resume(Effect.void))
        worker.postMessage({ type: "close" } satisfies ToWorker)
      }).pipe(
        Effect.timeoutOrElse({ duration: CLOSE_GRACE_MS, orElse: () => Effect.promise(() => worker.terminate()) }),
        Effect.asVoid
      )
  )

  const ready = yield* Effect.callback<Extract<FromWorker, { type: "ready" }>, WorkerEngineError>((resume) => {
    const onMessage = (message: FromWorker) => {
      if (message.type === "ready") resume(Effect.succeed(message))
      if (message.type === "load-failed") {
        resume(Effect.fail(
          new WorkerEngineError({
            message: `the engine worker could not load ${spec.modelDir}: ${message.error.message}`,
            remediation: message.error.remediation
          })
        ))
      }
    }
    const onError = (error: Error) =>
      resume(Effect.fail(new WorkerEngineError({ message: `the engine worker failed: ${error.message}`, remediation: "see the error above" })))
    const onExit = (code: number) =>
      resume(Effect.fail(new WorkerEngineError({ message: describeExit(code), remediation: "see the worker's output above" })))
    worker.on("message", onMessage).on("error", onError).on("exit", onExit)
    return Effect.sync(() => worker.off("message", onMessage).off("error", onError).off("exit", onExit))
  })

  const listeners = new Map<number, (event: RequestEvent) => void>()
  let crashed: ErrorData | undefined
  const crash = (message: string) => {
    crashed = { reason: "worker-crashed", message, remediation: "restart the engine (or the service); report the message if it recurs" }
    for (const [id, listener] of listeners) listener({ type: "failed", id, error: crashed })
  }
  worker.on("message", (message: FromWorker) => {
    if ("id" in message) listeners.get(message.id)?.(message)
  })
  worker.on("error", (error) => crash(`the engine worker failed: ${error.message}`))
  worker.on("exit", (code) => crash(describeExit(code)))

  let nextId = 0
  const stream = (text: string, options: SynthesisOptions = {}): Stream.Stream<AudioChunk, SynthesisError> => {
    const { onProgress, onTrace, ...rest } = options
    const events = Stream.callback<RequestEvent, SynthesisError>((queue) =>
      Effect.gen(function*() {
        const id = nextId++
        let finished = false
        const onEvent = (event: RequestEvent) => {
          if (event.type === "done" || event.type === "failed") {
            finished = true
            listeners.delete(id)
          }
          if (event.type === "done") Queue.endUnsafe(queue)
          else if (event.type === "failed") Queue.failCauseUnsafe(queue, Cause.fail(new SynthesisError(event.error)))
          else if (event.type !== "cancelled") Queue.offerUnsafe(queue, event)
        }
        // an interrupted stream returns once the worker has stopped generating for it
        yield* Effect.addFinalizer(() =>
          finished || crashed !== undefined
            ? Effect.sync(() => listeners.delete(id))
            : Effect.callback<void>((resume) => {
              listeners.set(id, (event) => {
                if (event.type !== "cancelled" && event.type !== "failed") return
                listeners.delete(id)
                resume(Effect.void)
              })
              worker.postMessage({ type: "cancel", id } satisfies ToWorker)
            })
        )
        if (crashed !== undefined) return onEvent({ type: "failed", id, error: crashed })
        listeners.set(id, onEvent)
        worker.postMessage(
          { type: "synthesize", id, text, options: rest, progress: onProgress !== undefined, trace: onTrace !== undefined } satisfies ToWorker
        )
      })
    )
    return events.pipe(
      Stream.tap((event) =>
        event.type === "progress" && onProgress !== undefined
          ? onProgress(event.progress)
          : event.type === "trace" && onTrace !== undefined
          ? onTrace(event.event)
          : Effect.void
      ),
      Stream.filter((event): event is Extract<RequestEvent, { type: "chunk" }> => event.type === "chunk"),
      Stream.map((event) => event.chunk)
    )
  }

  return BarkEngine.of({
    kind: "bark",
    sampleRate: ready.sampleRate,
    voices: ready.voices,
    stream,
    synthesize: (text, options) => collectSynthesis(stream(text, options), ready.sampleRate)
  })
})
