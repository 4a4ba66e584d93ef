/**
 * What the installed onnxruntime-node offers: its version and the execution
 * providers whose binaries are present (CUDA only when onnxruntime-node's
 * install script fetched them: `ONNXRUNTIME_NODE_INSTALL=cuda12`, docs/install.md).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import * as ort from "onnxruntime-node"

export interface RuntimeInfo {
  readonly version: string
  /** Execution providers usable in this installation, e.g. ["cpu"] or ["cpu", "cuda"]. */
  readonly executionProviders: ReadonlyArray<string>
}

/** The folder holding onnxruntime-node's native binaries for this platform. */
const binaryDir = (): string => {
  const entry = createRequire(import.meta.url).resolve("onnxruntime-node")
  const pkg = entry.slice(0, entry.lastIndexOf(`${path.sep}onnxruntime-node${path.sep}`) + "onnxruntime-node".length + 1)
  return path.join(pkg, "bin", "napi-v6", process.platform, process.arch)
}

/** onnxruntime-node lists CUDA as "not bundled"; it is usable when its provider library was installed. */
export const cudaProviderInstalled = (): boolean => {
  try {
    return fs.readdirSync(binaryDir()).some((f) => f.startsWith("libonnxruntime_providers_cuda"))
  } catch {
    return false
  }
}

export const runtimeInfo: Effect.Effect<RuntimeInfo> = Effect.sync(() => ({
  version: ort.env.versions.node ?? ort.env.versions.common,
  executionProviders: ort.listSupportedBackends()
    .filter((b) => b.name === "cpu" || (b.name === "cuda" && cudaProviderInstalled()))
    .map((b) => b.name)
}))
