/**
 * The inference backend: where onnxruntime sessions are created and on which
 * execution providers. Layers: `Cpu`, `Cuda` (CUDA first, CPU for unsupported
 * nodes) and `Mock` (no onnxruntime at all, for tests of the code above it).
 *
 * Sessions are scoped: they are released when the scope that created them
 * closes.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Option, type Scope } from "effect"
import { readFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { InferenceSession, type Tensor } from "onnxruntime-node"
import { type BuiltModel, joinParts } from "./graph.ts"
import { InferenceError } from "./InferenceError.ts"

/** A model to load: built bytes (with their external weight files) or the path of an `.onnx` file. */
export type ModelSource = BuiltModel | string


/** onnxruntime's graph optimisation levels. */
export type OptimizationLevel = "disabled" | "basic" | "extended" | "all"

export interface SessionOptions {
  /** Name used in errors and traces, e.g. "semantic". */
  readonly model: string
  /** Overrides the backend's intra-op thread count for this session. */
  readonly intraOpNumThreads?: number
  /** Default "all". Use "disabled" for a model that was saved already optimised. */
  readonly graphOptimizationLevel?: OptimizationLevel
  /** Where onnxruntime writes the optimised model while creating the session. */
  readonly optimizedModelFilePath?: string
  /**
   * With `optimizedModelFilePath`: the file (beside it) that receives the
   * optimised model's weights, so the saved model opens with memory-mapped
   * external data like the converted one.
   */
  readonly optimizedExternalDataFile?: string
  /**
   * Default true. false keeps onnxruntime from making private prepacked
   * copies of MatMul weights: weights of a model opened by path stay in the
   * shared, memory-mapped external data file (see docs/models.md, "Memory: where the bytes are").
   */
  readonly prepack?: boolean
  /** onnxruntime's CPU memory arena (default true). */
  readonly cpuMemArena?: boolean
  /** onnxruntime's memory pattern planning (default true). */
  readonly memPattern?: boolean
}

/** An onnxruntime session reduced to what the graphs need. */
export interface Session {
  readonly inputNames: ReadonlyArray<string>
  /** The element type of each tensor input ("float32", "float16", "int64", …), by name. */
  readonly inputTypes: Readonly<Record<string, string>>
  readonly outputNames: ReadonlyArray<string>
  /** Runs the graph and returns only the outputs named in `fetches` (the others are computed and dropped). */
  readonly run: (
    feeds: Readonly<Record<string, Tensor>>,
    fetches: ReadonlyArray<string>
  ) => Effect.Effect<Readonly<Record<string, Tensor>>, InferenceError>
}

/** BARK_INTRA_OP_THREADS: onnxruntime intra-op threads per session. Default: `coreCount()`. */
export const intraOpThreads = Config.option(Config.Int("BARK_INTRA_OP_THREADS"))

/**
 * The CPU cores this process may use (`os.availableParallelism()`, which
 * honours affinity and cgroup limits), SMT siblings counted once: the
 * default intra-op thread count. Left to itself, onnxruntime-node ran one
 * thread on the 2-core development machine, where two decode a bark-small
 * step 1.6× faster; on a core's second hardware thread GEMMs only compete
 * for the same FMA units.
 */
export const coreCount = (): number => {
  let cpuinfo = ""
  try {
    cpuinfo = readFileSync("/proc/cpuinfo", "utf8")
  } catch {
    // Not Linux: every logical CPU counts.
  }
  return Math.max(1, Math.floor(availableParallelism() / threadsPerCore(cpuinfo)))
}

/** Hardware threads per core in a `/proc/cpuinfo` text (`siblings` / `cpu cores`); 1 where it does not say. */
export const threadsPerCore = (cpuinfo: string): number => {
  const field = (name: string) => Number(new RegExp(`^${name}\\s*:\\s*(\\d+)`, "m").exec(cpuinfo)?.[1])
  const ratio = field("siblings") / field("cpu cores")
  return Number.isFinite(ratio) && ratio > 1 ? Math.round(ratio) : 1
}

export type BackendName = "cpu" | "cuda" | "mock"

export class InferenceBackend extends Context.Service<InferenceBackend, {
  readonly name: BackendName
  /** onnxruntime execution providers, in order of preference. */
  readonly providers: ReadonlyArray<string>
  /** Intra-op threads of the sessions it creates (undefined: the mock's, which creates none). */
  readonly intraOpNumThreads: number | undefined
  readonly createSession: (source: ModelSource, options: SessionOptions) => Effect.Effect<Session, InferenceError, Scope.Scope>
}>()("bark-pipeline/InferenceBackend") {
  /** CPU with an explicit thread count (`coreCount()` when omitted). */
  static readonly cpu = (options: { readonly intraOpNumThreads?: number } = {}) =>
    Layer.succeed(InferenceBackend, make("cpu", ["cpu"], options.intraOpNumThreads))

  /** CPU, threads from `BARK_INTRA_OP_THREADS` (default `coreCount()`). */
  static readonly Cpu = Layer.unwrap(
    Effect.map(intraOpThreads, (threads) => InferenceBackend.cpu(Option.isSome(threads) ? { intraOpNumThreads: threads.value } : {}))
  )

  /** CUDA with CPU fallback for nodes CUDA does not implement. Session creation fails where CUDA is missing. */
  static readonly Cuda = Layer.unwrap(
    Effect.map(intraOpThreads, (threads) =>
      Layer.succeed(InferenceBackend, make("cuda", ["cuda", "cpu"], Option.getOrUndefined(threads))))
  )

  /**
   * No onnxruntime: every `createSession` fails with an `InferenceError`. For
   * tests of code that needs the service but must not load models (device
   * selection, planning, the HTTP layer); tests of generation provide
   * in-memory `BarkModels` instead.
   */
  static readonly Mock = Layer.succeed(InferenceBackend, {
    name: "mock",
    providers: [],
    intraOpNumThreads: undefined,
    createSession: (_source, options) =>
      Effect.fail(
        new InferenceError({
          model: options.model,
          message: `the mock inference backend cannot create onnxruntime sessions (model "${options.model}")`,
          remediation: "use InferenceBackend.Cpu or InferenceBackend.Cuda to run graphs, or provide in-memory BarkModels"
        })
      )
  })
}

const make = (name: "cpu" | "cuda", providers: ReadonlyArray<string>, intraOpNumThreads: number = coreCount()) =>
  InferenceBackend.of({
    name,
    providers,
    intraOpNumThreads,
    createSession: (source, options) => {
      const threads = options.intraOpNumThreads ?? intraOpNumThreads
      const sessionOptions: InferenceSession.SessionOptions = {
        executionProviders: providers,
        graphOptimizationLevel: options.graphOptimizationLevel ?? "all",
        // Errors only: onnxruntime otherwise warns on every optimised-model save that it may be
        // hardware specific, which the graph cache already accounts for (its key holds the CPU model).
        logSeverityLevel: 3,
        ...(options.cpuMemArena === undefined ? {} : { enableCpuMemArena: options.cpuMemArena }),
        ...(options.memPattern === undefined ? {} : { enableMemPattern: options.memPattern }),
        ...(threads === undefined ? {} : { intraOpNumThreads: threads }),
        ...(options.optimizedModelFilePath === undefined ? {} : { optimizedModelFilePath: options.optimizedModelFilePath }),
        // Session config keys, flat and dotted: the form onnxruntime-node passes through (ort-notes §4).
        extra: {
          ...(options.prepack === false ? { "session.disable_prepacking": "1" } : {}),
          // Idle pool threads sleep instead of spinning: they share the cores with the JS threads (HTTP,
          // encoding, the worker engine), and a 2-core service served the demo 1.8× faster for it.
          "session.intra_op.allow_spinning": "0",
          ...(options.optimizedExternalDataFile === undefined ? {} : {
            "session.optimized_model_external_initializers_file_name": options.optimizedExternalDataFile,
            "session.optimized_model_external_initializers_min_size_in_bytes": "1024"
          })
        },
        ...(typeof source === "string" ? {} : { externalData: source.externalData.map((file) => ({ data: joinParts(file), path: file.path })) })
      }
      return Effect.acquireRelease(
        Effect.tryPromise({
          try: () =>
            typeof source === "string"
              ? InferenceSession.create(source, sessionOptions)
              : InferenceSession.create(source.model, sessionOptions),
          catch: (cause) =>
            new InferenceError({
              model: options.model,
              message: `could not create the ${name} session for ${options.model}: ${errorText(cause)}`,
              remediation: name === "cuda"
                ? "check that the CUDA execution provider and drivers are installed, or use the CPU backend (BARK_DEVICE=cpu)"
                : "the graph or its weights are invalid; rebuild it from an intact checkpoint and report the message if it persists"
            })
        }),
        (session) => Effect.promise(() => session.release())
      ).pipe(Effect.map((session) => wrap(session, options.model)))
    }
  })

const wrap = (session: InferenceSession, model: string): Session => ({
  inputNames: session.inputNames,
  inputTypes: Object.fromEntries(session.inputMetadata.flatMap((m) => (m.isTensor ? [[m.name, m.type]] : []))),
  outputNames: session.outputNames,
  run: (feeds, fetches) =>
    Effect.tryPromise({
      try: () => session.run(feeds, [...fetches]) as Promise<Record<string, Tensor>>,
      catch: (cause) =>
        new InferenceError({
          model,
          message: `onnxruntime failed running ${model}: ${errorText(cause)}`,
          remediation: "check the inputs' shapes and lengths; if they are valid, this is a bug in the graph: report the message"
        })
    })
})

const errorText = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))
