/**
 * The runtime a pipeline runs in: Node, platform, CPU and memory. Other
 * layers add to it (onnxruntime version and execution providers, GPU) by
 * passing extra probes to the runner.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as os from "node:os"
import type { EnvironmentSummary } from "./StageResult.ts"

const mb = (bytes: number) => Math.round(bytes / (1024 * 1024))

/** Resident set size of this process, in MB. */
export const rssMb = (): number => Math.round((process.memoryUsage.rss() / (1024 * 1024)) * 10) / 10

export const probe: Effect.Effect<EnvironmentSummary> = Effect.sync(() => {
  const cpus = os.cpus()
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cpuCount: os.availableParallelism(),
    totalMemoryMb: mb(os.totalmem()),
    freeMemoryMb: mb(os.freemem())
  }
})

/** Extra environment facts contributed by layers the pipeline module does not know. */
export type Probe = Effect.Effect<Partial<EnvironmentSummary>>
