import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import * as Device from "../../../src/bark/stages/device.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import * as Pipeline from "../../../src/pipeline/Pipeline.ts"
import * as Runner from "../../../src/pipeline/Runner.ts"
import type * as Stage from "../../../src/pipeline/Stage.ts"

/** A machine with an H100 whose onnxruntime has CUDA and starts it. */
const gpuMachine: Device.DeviceProbe = {
  hasNvidiaDevice: Effect.succeed(true),
  gpus: Effect.succeed([{ name: "NVIDIA H100 80GB HBM3", memoryMb: 81_559, driver: "550.54.15" }]),
  cudaInstalled: Effect.succeed(true),
  startCuda: Effect.void
}

/** A machine without any NVIDIA device or CUDA provider: starting CUDA must not even be tried. */
const cpuMachine: Device.DeviceProbe = {
  hasNvidiaDevice: Effect.succeed(false),
  gpus: Effect.succeed([]),
  cudaInstalled: Effect.succeed(false),
  startCuda: Effect.die("CUDA probed")
}

const runDevice = (stage: Stage.Any, config: Record<string, string>) =>
  Effect.scoped(
    Runner.run(Pipeline.make("device-test", "device").pipe(Pipeline.add(stage)), { config }).pipe(
      Effect.map((ready) => ({ result: ready.report.results[0]!, backend: Context.get(ready.context, InferenceBackend) }))
    )
  )

describe("device stage", () => {
  it.effect("auto on a machine without an NVIDIA GPU is skipped, with the CPU backend", () =>
    Effect.gen(function*() {
      const { backend, result } = yield* runDevice(Device.make({ probe: cpuMachine }), {})
      assert.strictEqual(result.outcome, "skipped")
      assert.include(result.skipReason ?? "", "without an NVIDIA GPU")
      assert.strictEqual(result.warnings.length, 0)
      assert.strictEqual(backend.name, "cpu")
      assert.strictEqual(result.metadata["provider"], "cpu")
    }))

  it.effect("cuda requested where onnxruntime has no CUDA provider: a warning that says how to enable it, then the CPU", () =>
    Effect.gen(function*() {
      const { backend, result } = yield* runDevice(Device.make({ probe: cpuMachine }), { BARK_DEVICE: "cuda" })
      assert.strictEqual(result.outcome, "warned")
      assert.strictEqual(backend.name, "cpu")
      assert.include(result.warnings[0]!.message, "installed without the CUDA execution provider")
      assert.include(result.warnings[0]!.remediation ?? "", "ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install")
      assert.include(result.warnings[0]!.remediation ?? "", "BARK_DEVICE=cpu")
      assert.strictEqual(result.metadata["provider"], "cpu")
      assert.include(String(result.metadata["why"]), "fallback")
    }))

  it.effect("cuda with BARK_DEVICE_STRICT=1 and no CUDA is fatal", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(runDevice(Device.make({ probe: cpuMachine }), { BARK_DEVICE: "cuda", BARK_DEVICE_STRICT: "1" }))
      assert.strictEqual(failed.stage, "device")
      assert.strictEqual(failed.errorTag, "CudaUnavailable")
      assert.include(failed.message, "BARK_DEVICE_STRICT=1")
      assert.include(failed.remediation, "unset BARK_DEVICE_STRICT")
    }))

  it.effect("auto with a GPU whose CUDA provider fails to start warns with the reason and the device, then uses the CPU", () =>
    Effect.gen(function*() {
      const probe = { ...gpuMachine, startCuda: Effect.fail("libcudnn.so.9: cannot open shared object file") }
      const { backend, result } = yield* runDevice(Device.make({ probe }), {})
      assert.strictEqual(result.outcome, "warned")
      assert.strictEqual(backend.name, "cpu")
      assert.include(result.warnings[0]!.message, "libcudnn.so.9")
      assert.strictEqual(result.metadata["gpu"], "NVIDIA H100 80GB HBM3")
      assert.strictEqual(result.metadata["gpuMemoryMb"], 81_559)
    }))

  it.effect("auto and cuda choose CUDA when it starts", () =>
    Effect.gen(function*() {
      for (const device of ["auto", "cuda"]) {
        const { backend, result } = yield* runDevice(Device.make({ probe: gpuMachine }), { BARK_DEVICE: device, BARK_DEVICE_STRICT: "1" })
        assert.strictEqual(result.outcome, "succeeded")
        assert.strictEqual(backend.name, "cuda")
        assert.deepStrictEqual(backend.providers, ["cuda", "cpu"])
        assert.strictEqual(result.metadata["provider"], "cuda")
        assert.strictEqual(result.metadata["driver"], "550.54.15")
      }
    }))

  it.effect("BARK_DEVICE=cpu uses the CPU without probing the GPU", () =>
    Effect.gen(function*() {
      const probe = { ...gpuMachine, gpus: Effect.die("gpus probed"), startCuda: Effect.die("CUDA probed") }
      const { backend, result } = yield* runDevice(Device.make({ probe }), { BARK_DEVICE: "cpu", BARK_INTRA_OP_THREADS: "3" })
      assert.strictEqual(result.outcome, "succeeded")
      assert.strictEqual(backend.name, "cpu")
      assert.strictEqual(result.metadata["intraOpThreads"], 3)
    }))

  it.effect("the cpu profile's stage ignores BARK_DEVICE", () =>
    Effect.gen(function*() {
      const { backend, result } = yield* runDevice(Device.cpuStage, { BARK_DEVICE: "cuda", BARK_DEVICE_STRICT: "1" })
      assert.strictEqual(result.outcome, "succeeded")
      assert.strictEqual(backend.name, "cpu")
    }))

  it.effect("an unknown BARK_DEVICE is a config error", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(runDevice(Device.make({ probe: cpuMachine }), { BARK_DEVICE: "gpu" }))
      assert.strictEqual(failed.errorTag, "ConfigError")
    }))

  it.effect("on this machine, the real probe gives a backend that matches its metadata", () =>
    Effect.gen(function*() {
      const { backend, result } = yield* runDevice(Device.stage, { BARK_DEVICE: "cuda" })
      assert.oneOf(result.outcome, ["succeeded", "warned"])
      assert.strictEqual(result.metadata["provider"], backend.name)
    }))

  it("parses nvidia-smi's CSV", () => {
    assert.deepStrictEqual(Device.parseGpus("NVIDIA H100 80GB HBM3, 81559, 550.54.15\nTesla T4, [N/A], 535.1\n\n"), [
      { name: "NVIDIA H100 80GB HBM3", memoryMb: 81_559, driver: "550.54.15" },
      { name: "Tesla T4", driver: "535.1" }
    ])
  })
})
