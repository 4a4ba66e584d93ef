/**
 * The messages between the worker engine's client (main thread) and its
 * worker thread. Everything here survives structured cloning; audio buffers
 * are transferred, not copied. Callbacks (`onProgress`) stay in the main
 * thread: the worker only says whether progress is wanted.
 *
 * @since 0.1.0
 */
import type { AudioChunk, SynthesisOptions, SynthesisProgress } from "./BarkEngine.ts"
import type { EngineOptions } from "./inProcess.ts"

/** What the worker loads: given through `workerData`. */
export interface WorkerSpec {
  /** The model directory: config.json, the weights, vocab.txt, voices. */
  readonly modelDir: string
  /** Relative to `modelDir`; default model.safetensors. */
  readonly weightsFile?: string
  readonly backend: "cpu" | "cuda"
  readonly intraOpNumThreads?: number
  readonly engine?: EngineOptions
}

/** A failure in transit: the tag and fields of a SynthesisError (or of a load error). */
export interface ErrorData {
  readonly reason: string
  readonly message: string
  readonly remediation: string
}

export type ToWorker =
  | {
    readonly type: "synthesize"
    readonly id: number
    readonly text: string
    readonly options: Omit<SynthesisOptions, "onProgress">
    readonly progress: boolean
  }
  /** Stop a request's generation; the worker answers `cancelled` once it has stopped. */
  | { readonly type: "cancel"; readonly id: number }
  /** Release the sessions and end the thread. */
  | { readonly type: "close" }

export type FromWorker =
  | { readonly type: "ready"; readonly voices: ReadonlyArray<string>; readonly sampleRate: number }
  | { readonly type: "load-failed"; readonly error: ErrorData }
  | { readonly type: "progress"; readonly id: number; readonly progress: SynthesisProgress }
  | { readonly type: "chunk"; readonly id: number; readonly chunk: AudioChunk }
  | { readonly type: "done"; readonly id: number }
  | { readonly type: "failed"; readonly id: number; readonly error: ErrorData }
  | { readonly type: "cancelled"; readonly id: number }

/** The messages of one request, as the client's stream sees them. */
export type RequestEvent = Extract<FromWorker, { readonly id: number }>
