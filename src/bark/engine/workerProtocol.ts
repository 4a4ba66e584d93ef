/**
 * The messages between the worker engine's client (main thread) and its
 * worker thread. Everything here survives structured cloning; audio buffers
 * are transferred, not copied. Callbacks (`onProgress`, `onTrace`) stay in
 * the main thread: the worker only says whether progress and trace events
 * are wanted.
 *
 * @since 0.1.0
 */
import type { AudioChunk, SynthesisOptions, SynthesisProgress } from "./BarkEngine.ts"
import type { SessionOptions } from "../../onnx/InferenceBackend.ts"
import type { TraceEvent } from "../../pipeline/TraceEvent.ts"
import type { BarkConfig } from "../config.ts"
import type { SubModel } from "../models.ts"
import type { EngineOptions } from "./inProcess.ts"

/**
 * What the worker opens, given through `workerData`: the converted model's
 * graphs by path (no weights cross threads) and the model directory for the
 * tokenizer and voices.
 */
export interface WorkerSpec {
  /** The model directory: config.json, vocab.txt, voices. */
  readonly modelDir: string
  readonly config: BarkConfig
  /** Each sub-model's `.onnx` in the graph cache. */
  readonly graphs: Readonly<Record<SubModel, string>>
  readonly backend: "cpu" | "cuda"
  readonly intraOpNumThreads?: number
  /** How to open the sessions: the options preload would have used. */
  readonly sessionOptions?: Omit<SessionOptions, "model">
  /** Open each sub-model's session only while it runs (SUNO_OFFLOAD_CPU). */
  readonly offload?: boolean
  /** Whether to warm every sub-model up before reporting ready. */
  readonly warmUp?: boolean
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
    readonly options: Omit<SynthesisOptions, "onProgress" | "onTrace">
    readonly progress: boolean
    readonly trace: boolean
  }
  /** Stop a request's generation; the worker answers `cancelled` once it has stopped. */
  | { readonly type: "cancel"; readonly id: number }
  /** Release the sessions and end the thread. */
  | { readonly type: "close" }

export type FromWorker =
  | { readonly type: "ready"; readonly voices: ReadonlyArray<string>; readonly sampleRate: number }
  | { readonly type: "load-failed"; readonly error: ErrorData }
  | { readonly type: "progress"; readonly id: number; readonly progress: SynthesisProgress }
  /** An event of the request's synthesis recipe (its stages run on the worker). */
  | { readonly type: "trace"; readonly id: number; readonly event: TraceEvent }
  | { readonly type: "chunk"; readonly id: number; readonly chunk: AudioChunk }
  | { readonly type: "done"; readonly id: number }
  | { readonly type: "failed"; readonly id: number; readonly error: ErrorData }
  | { readonly type: "cancelled"; readonly id: number }

/** The messages of one request, as the client's stream sees them. */
export type RequestEvent = Extract<FromWorker, { readonly id: number }>
