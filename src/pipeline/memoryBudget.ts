/**
 * The memory budget the service grades its RSS against: an explicit
 * BARK_MEMORY_LIMIT_MB, else the container's limit (cgroup v2
 * `memory.max`, else cgroup v1 `memory/memory.limit_in_bytes`), else the
 * host's memory. A limit that does not bind (v2 `max`, v1's huge "unlimited"
 * value, or anything at or above the host's memory) counts as no limit.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** Where the budget came from; reported on /health and as `bark_memory_budget_bytes{source}`. */
export type BudgetSource = "config" | "cgroup-v2" | "cgroup-v1" | "host"

export interface MemoryBudget {
  readonly limitMb: number
  readonly source: BudgetSource
  /** The file and value it was read from, or the setting: for the startup log. */
  readonly detail: string
}

export const DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup"

/** cgroup v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages, about 2^63 bytes). */
export const V1_UNLIMITED_BYTES = 2 ** 60

export interface ResolveOptions {
  /** BARK_MEMORY_LIMIT_MB, when set: wins over everything else. */
  readonly configuredMb?: number | undefined
  /** Where the cgroup filesystem is mounted (default /sys/fs/cgroup; tests point it at fake files). */
  readonly cgroupRoot?: string
  /** The host's memory in bytes (default os.totalmem()). */
  readonly hostTotalBytes?: number
}

const MB = 2 ** 20

const readTrimmed = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8").trim()
  } catch {
    return undefined
  }
}

const bytesOf = (text: string | undefined): number | undefined => {
  if (text === undefined || !/^\d+$/.test(text)) return undefined
  const n = Number(text)
  return n > 0 ? n : undefined
}

export const resolve = (options: ResolveOptions = {}): MemoryBudget => {
  const host = options.hostTotalBytes ?? os.totalmem()
  if (options.configuredMb !== undefined) {
    return { limitMb: options.configuredMb, source: "config", detail: `BARK_MEMORY_LIMIT_MB=${options.configuredMb}` }
  }
  const root = options.cgroupRoot ?? DEFAULT_CGROUP_ROOT
  const binding = (bytes: number | undefined) => bytes !== undefined && bytes < host && bytes < V1_UNLIMITED_BYTES

  const v2File = path.join(root, "memory.max")
  const v2Text = readTrimmed(v2File)
  const v2 = bytesOf(v2Text)
  if (binding(v2)) return { limitMb: Math.round(v2! / MB), source: "cgroup-v2", detail: `${v2File} = ${v2Text}` }

  const v1File = path.join(root, "memory", "memory.limit_in_bytes")
  const v1Text = readTrimmed(v1File)
  const v1 = bytesOf(v1Text)
  if (binding(v1)) return { limitMb: Math.round(v1! / MB), source: "cgroup-v1", detail: `${v1File} = ${v1Text}` }

  const why = v2Text !== undefined
    ? `${v2File} = ${v2Text}: no binding limit`
    : v1Text !== undefined
    ? `${v1File} = ${v1Text}: no binding limit`
    : "no cgroup memory limit found"
  return { limitMb: Math.round(host / MB), source: "host", detail: `the host's memory (${why})` }
}
