/**
 * Stage `device`: chooses where inference runs (BARK_DEVICE=auto|cpu|cuda)
 * and provides the `InferenceBackend`. onnxruntime places a session on its
 * execution provider when the session is created, so the device is chosen
 * before preload creates them.
 *
 * auto and cuda try the CUDA execution provider: it must be installed
 * (onnxruntime-node's CUDA binaries) and start, which a tiny session on CUDA
 * alone proves. Otherwise the CPU is used with a warning, or, for cuda with
 * BARK_DEVICE_STRICT=1, the stage fails. With auto on a machine without an
 * NVIDIA device the stage is skipped: the CPU is the only choice.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Option } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { InferenceSession } from "onnxruntime-node"
import { GraphBuilder } from "../../onnx/graph.ts"
import { coreCount, InferenceBackend, intraOpThreads } from "../../onnx/InferenceBackend.ts"
import { cudaProviderInstalled } from "../../onnx/runtimeInfo.ts"
import * as Stage from "../../pipeline/Stage.ts"
import { StageFatal } from "../../pipeline/StageFatal.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import * as Settings from "../settings.ts"

export interface GpuInfo {
  readonly name: string
  readonly memoryMb?: number
  readonly driver?: string
}

/** What the stage asks the machine; replaceable so every path can be tested on any machine. */
export interface DeviceProbe {
  /** Whether an NVIDIA device is visible (/dev/nvidia0, or nvidia-smi on the PATH). Cheap: used by the skip rule. */
  readonly hasNvidiaDevice: Effect.Effect<boolean>
  /** The GPUs nvidia-smi lists; empty without nvidia-smi. */
  readonly gpus: Effect.Effect<ReadonlyArray<GpuInfo>>
  /** Whether onnxruntime-node was installed with its CUDA execution provider. */
  readonly cudaInstalled: Effect.Effect<boolean>
  /** Creates a one-node session on CUDA alone; fails with onnxruntime's reason when CUDA cannot start. */
  readonly startCuda: Effect.Effect<void, string>
}

const onPath = (command: string): boolean =>
  (process.env["PATH"] ?? "").split(path.delimiter).some((dir) => dir !== "" && fs.existsSync(path.join(dir, command)))

const nvidiaSmi = (args: ReadonlyArray<string>) =>
  Effect.callback<string, string>((resume) => {
    execFile("nvidia-smi", [...args], { timeout: 10_000 }, (error, stdout) =>
      resume(error ? Effect.fail(error.message) : Effect.succeed(stdout)))
  })

/** Parses `nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits`. */
export const parseGpus = (csv: string): ReadonlyArray<GpuInfo> =>
  csv.split("\n").map((line) => line.split(",").map((f) => f.trim())).filter(([name]) => name !== undefined && name !== "").map((
    [name, memory, driver]
  ) => {
    const memoryMb = Number(memory)
    return {
      name: name!,
      ...(Number.isFinite(memoryMb) && memory !== "" ? { memoryMb } : {}),
      ...(driver === undefined || driver === "" ? {} : { driver })
    }
  })

const tinyGraph = () => {
  const g = new GraphBuilder("cuda_probe")
  const x = g.input("x", "float32", [1])
  g.output(g.add(x, x), "y")
  return g.build().model
}

/** The probe of the machine this runs on. */
export const systemProbe: DeviceProbe = {
  hasNvidiaDevice: Effect.sync(() => fs.existsSync("/dev/nvidia0") || onPath("nvidia-smi")),
  gpus: nvidiaSmi(["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"]).pipe(
    Effect.map(parseGpus),
    Effect.orElseSucceed(() => [])
  ),
  cudaInstalled: Effect.sync(cudaProviderInstalled),
  startCuda: Effect.tryPromise({
    try: async () => {
      const session = await InferenceSession.create(tinyGraph(), { executionProviders: ["cuda"] })
      await session.release()
    },
    catch: (e) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!
  })
}

export const enableCuda =
  "to use the GPU, fetch onnxruntime-node's CUDA binaries with its own install script, which a CPU install does not run (`ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install` in the project; it downloads from NuGet; see docs/install.md), with the NVIDIA driver, CUDA 12 and cuDNN 9 installed, and check that `nvidia-smi` works; set BARK_DEVICE=cpu to run on the CPU without this warning"

const backendOf = <E>(layer: Layer.Layer<InferenceBackend, E>) =>
  Effect.provide(Effect.gen(function*() {
    return yield* InferenceBackend
  }), layer)

const cpuBackend = backendOf(InferenceBackend.Cpu)

const threadsMetadata = Effect.map(intraOpThreads, (t) => ({ intraOpThreads: Option.isSome(t) ? t.value : coreCount() }))

/** The device stage; `probe` replaces parts of the machine probe (tests, or recipes that know the machine). */
export const make = (options: { readonly probe?: Partial<DeviceProbe> } = {}) => {
  const probe: DeviceProbe = { ...systemProbe, ...options.probe }
  return Stage.make({
    name: "device",
    purpose: "choose the execution provider (CUDA or CPU) that sessions are created on",
    provides: InferenceBackend,
    skip: {
      when: Effect.gen(function*() {
        if ((yield* Settings.device) !== "auto") return undefined
        return (yield* probe.hasNvidiaDevice)
          ? undefined
          : "BARK_DEVICE=auto on a machine without an NVIDIA GPU (no /dev/nvidia0, no nvidia-smi): using the CPU"
      }),
      value: Effect.gen(function*() {
        yield* StageReporter.annotate({ requested: "auto", provider: "cpu", why: "no NVIDIA GPU", ...(yield* threadsMetadata) })
        return yield* cpuBackend
      })
    },
    build: Effect.gen(function*() {
      const requested = yield* Settings.device
      const strict = yield* Settings.deviceStrict
      yield* StageReporter.annotate({ requested, strict, ...(yield* threadsMetadata) })
      if (requested === "cpu") {
        yield* StageReporter.annotate({ provider: "cpu", why: "BARK_DEVICE=cpu" })
        return yield* cpuBackend
      }
      const gpus = yield* probe.gpus
      const gpu = gpus[0]
      if (gpu !== undefined) {
        yield* StageReporter.annotate({
          gpu: gpu.name,
          gpuCount: gpus.length,
          ...(gpu.memoryMb === undefined ? {} : { gpuMemoryMb: gpu.memoryMb }),
          ...(gpu.driver === undefined ? {} : { driver: gpu.driver })
        })
      }
      const unavailable = !(yield* probe.cudaInstalled)
        ? "onnxruntime-node was installed without the CUDA execution provider"
        : yield* probe.startCuda.pipe(
          Effect.as(undefined),
          Effect.catch((reason) => Effect.succeed(`the CUDA execution provider did not start: ${reason}`))
        )
      if (unavailable === undefined) {
        yield* StageReporter.annotate({ provider: "cuda", why: `BARK_DEVICE=${requested} and CUDA started` })
        return yield* backendOf(InferenceBackend.Cuda)
      }
      if (requested === "cuda" && strict) {
        return yield* new StageFatal({
          message: `BARK_DEVICE=cuda with BARK_DEVICE_STRICT=1, but CUDA is unavailable: ${unavailable}`,
          remediation: `${enableCuda.replace(/; set BARK_DEVICE=cpu.*$/, "")}; or unset BARK_DEVICE_STRICT to fall back to the CPU`,
          errorTag: "CudaUnavailable"
        })
      }
      yield* StageReporter.warn(`CUDA is unavailable, running on the CPU: ${unavailable}`, enableCuda)
      yield* StageReporter.annotate({ provider: "cpu", why: `fallback: ${unavailable}` })
      return yield* cpuBackend
    })
  })
}

export const stage = make()

/** The device stage of the `cpu` profile: the CPU, whatever BARK_DEVICE says. */
export const cpuStage = Stage.make({
  name: "device",
  purpose: "use the CPU execution provider",
  provides: InferenceBackend,
  build: Effect.gen(function*() {
    yield* StageReporter.annotate({ provider: "cpu", why: "cpu profile", ...(yield* threadsMetadata) })
    return yield* cpuBackend
  })
})
