/**
 * The worker thread of the worker engine: opens the converted model's
 * graphs named in `workerData` (a `WorkerSpec`) as its own onnxruntime
 * sessions (the weights are memory-mapped from the graph cache, not copied), builds the in-process engine, and serves `ToWorker` requests —
 * chunks and progress go back as they are ready, a `cancel` interrupts the
 * request's generation, `close` releases the sessions and ends the thread.
 *
 * Started by ./workerEngine.ts; not meant to be imported.
 *
 * @since 0.1.0
 */
import { NodeServices } from "@effect/platform-node"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Option, Stream } from "effect"
import { parentPort, workerData } from "node:worker_threads"
import { InferenceBackend } from "../../onnx/InferenceBackend.ts"
import type { TraceEvent } from "../../pipeline/TraceEvent.ts"
import type { SynthesisProgress } from "./BarkEngine.ts"
import { makeBarkEngine } from "./inProcess.ts"
import { openModels } from "../loadModels.ts"
import { warmUp } from "../warmUp.ts"
import type { ErrorData, FromWorker, ToWorker, WorkerSpec } from "./workerProtocol.ts"

const port = parentPort!
const spec = workerData as WorkerSpec
const post = (message: FromWorker, transfer: ReadonlyArray<ArrayBuffer> = []) => port.postMessage(message, [...transfer])

const backend = spec.backend === "cuda"
  ? InferenceBackend.Cuda
  : InferenceBackend.cpu(spec.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: spec.intraOpNumThreads })

const errorData = (error: unknown): ErrorData => {
  const e = error as { readonly _tag?: string; readonly message?: string; readonly remediation?: string }
  return {
    reason: e._tag ?? "Error",
    message: e.message ?? String(error),
    remediation: e.remediation ?? "check the model directory and the worker's error above"
  }
}

const serve = Effect.gen(function*() {
  const models = yield* openModels(spec.config, spec.graphs, yield* InferenceBackend, {
    mode: spec.offload === true ? "offload" : "resident",
    ...(spec.sessionOptions === undefined ? {} : { sessionOptions: spec.sessionOptions })
  })
  if (spec.warmUp === true) yield* warmUp(models)
  const engine = yield* makeBarkEngine(models, spec.modelDir, spec.engine)
  const running = new Map<number, Fiber.Fiber<void>>()
  const closed = yield* Deferred.make<void>()
  const context = yield* Effect.context<never>()

  const synthesize = (request: Extract<ToWorker, { type: "synthesize" }>) => {
    const { id } = request
    const onProgress = request.progress
      ? { onProgress: (progress: SynthesisProgress) => Effect.sync(() => post({ type: "progress", id, progress })) }
      : {}
    const onTrace = request.trace ? { onTrace: (event: TraceEvent) => Effect.sync(() => post({ type: "trace", id, event })) } : {}
    return engine.stream(request.text, { ...request.options, ...onProgress, ...onTrace }).pipe(
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          const audio = chunk.audio.slice() // a buffer of our own, safe to transfer
          post({ type: "chunk", id, chunk: { ...chunk, audio } }, [audio.buffer])
        })
      ),
      Effect.exit,
      Effect.flatMap((exit) =>
        Effect.sync(() => {
          running.delete(id)
          if (Exit.isSuccess(exit)) return post({ type: "done", id })
          const error = Cause.findErrorOption(exit.cause)
          post({
            type: "failed",
            id,
            error: Option.isSome(error)
              ? { reason: error.value.reason, message: error.value.message, remediation: error.value.remediation }
              : errorData(Cause.squash(exit.cause))
          })
        })
      )
    )
  }

  port.on("message", (message: ToWorker) => {
    switch (message.type) {
      case "synthesize":
        running.set(message.id, Effect.runForkWith(context)(synthesize(message)))
        return
      case "cancel": {
        const fiber = running.get(message.id)
        running.delete(message.id)
        const cancelled = Effect.sync(() => post({ type: "cancelled", id: message.id }))
        Effect.runFork(fiber === undefined ? cancelled : Effect.andThen(Fiber.interrupt(fiber), cancelled))
        return
      }
      case "close":
        Deferred.doneUnsafe(closed, Exit.void)
    }
  })
  post({ type: "ready", voices: engine.voices, sampleRate: engine.sampleRate })
  yield* Deferred.await(closed)
  yield* Effect.forEach(running.values(), Fiber.interrupt, { discard: true })
})

await serve.pipe(
  Effect.scoped,
  Effect.catch((error) => Effect.sync(() => post({ type: "load-failed", error: errorData(error) }))),
  Effect.provide(Layer.merge(NodeServices.layer, backend)),
  Effect.runPromise
)
port.close()
