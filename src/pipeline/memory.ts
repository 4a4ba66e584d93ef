/**
 * Peak resident memory (RSS) of this process during a stretch of work, where
 * the OS allows it to be measured. The only OS-specific part of the runner.
 *
 * On Linux the kernel keeps the process's RSS high-water mark (`VmHWM` in
 * `/proc/self/status`); writing "5" to `/proc/self/clear_refs` resets it to
 * the current RSS (allowed for the process itself when it runs as root or as
 * its owner). Elsewhere, or when the write is refused, the peak is unknown.
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import * as fs from "node:fs"

export interface PeakRss {
  /** Resets the high-water mark to the current RSS; false when the OS does not allow it. */
  readonly reset: () => boolean
  /** The high-water mark since the last reset, in MB (one decimal); undefined when unknown. */
  readonly readMb: () => number | undefined
}

/** Reads `VmHWM` (kB) from a `/proc/<pid>/status` text, in MB with one decimal. */
export const parseVmHwmMb = (status: string): number | undefined => {
  const m = /^VmHWM:\s+(\d+)\s*kB/m.exec(status)
  return m === null ? undefined : Math.round((Number(m[1]) / 1024) * 10) / 10
}

/** The Linux implementation over a proc directory (`/proc/self` unless a test passes another). */
export const procfs = (dir = "/proc/self"): PeakRss => ({
  reset: () => {
    try {
      fs.writeFileSync(`${dir}/clear_refs`, "5")
      return true
    } catch {
      return false
    }
  },
  readMb: () => {
    try {
      return parseVmHwmMb(fs.readFileSync(`${dir}/status`, "utf8"))
    } catch {
      return undefined
    }
  }
})

/** Never knows the peak: for platforms without a resettable high-water mark. */
export const unavailable: PeakRss = { reset: () => false, readMb: () => undefined }

/** How the runner measures each stage's peak RSS; the default is `procfs()` on Linux. */
export const PeakRssProbe = Context.Reference<PeakRss>("pipeline/PeakRssProbe", {
  defaultValue: () => (process.platform === "linux" ? procfs() : unavailable)
})

/**
 * Starts measuring: resets the high-water mark and returns a function that
 * gives the peak since then (undefined when the reset or the read failed).
 */
export const startPeak = (probe: PeakRss): () => number | undefined => {
  const ok = probe.reset()
  return () => (ok ? probe.readMb() : undefined)
}
