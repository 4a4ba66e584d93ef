/**
 * The human view of a run: one line per stage with its outcome, duration and
 * RSS (before → after, and the peak where known; lean runs record none), warnings and errors under
 * it with what to do, a live progress line for long work (rewritten in place
 * on a terminal, throttled otherwise), and a last line naming the stage during
 * which the process peaked.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ProgressEvent, TraceEvent } from "../TraceEvent.ts"
import type { TraceSink } from "../TraceSink.ts"
import type { Outcome, PipelineReport, StageResult } from "../StageResult.ts"

export interface Output {
  readonly write: (text: string) => void
  readonly isTTY: boolean
}

const symbols: Record<Outcome, string> = {
  succeeded: "✓",
  warned: "!",
  skipped: "-",
  failed: "✗",
  "not-run": "·"
}

const formatMs = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`)

const formatAmount = (unit: string, n: number) =>
  unit === "bytes" ? `${(n / (1024 * 1024)).toFixed(1)} MB` : `${Math.round(n)} ${unit}`

export const formatProgress = (e: ProgressEvent): string => {
  const parts = [`  … ${e.stage}${e.label === undefined ? "" : ` ${e.label}`}`]
  if (e.total !== undefined && e.total > 0) {
    const ratio = Math.min(1, e.done / e.total)
    const width = 20
    const filled = Math.round(ratio * width)
    parts.push(`[${"#".repeat(filled)}${".".repeat(width - filled)}]`)
    parts.push(`${formatAmount(e.unit, e.done)} / ${formatAmount(e.unit, e.total)}`)
  } else {
    parts.push(formatAmount(e.unit, e.done))
  }
  if (e.ratePerSecond !== undefined) parts.push(`${formatAmount(e.unit, e.ratePerSecond)}/s`)
  if (e.etaSeconds !== undefined && Number.isFinite(e.etaSeconds)) parts.push(`eta ${Math.ceil(e.etaSeconds)} s`)
  return parts.join("  ")
}

/** RSS before → after, and the peak where known; nothing for a lean run, which does not read memory. */
const formatRss = (r: StageResult): string =>
  r.rssBeforeMb === undefined || r.rssAfterMb === undefined
    ? ""
    : `  rss ${Math.round(r.rssBeforeMb)} → ${Math.round(r.rssAfterMb)} MB${
      r.peakRssMb === undefined ? "" : `, peak ${Math.round(r.peakRssMb)} MB`
    }`

export const formatResult = (r: StageResult): string => {
  const head = `  ${symbols[r.outcome]} ${r.stage.padEnd(16)} ${r.outcome.padEnd(9)}`
  const lines = [
    r.outcome === "not-run"
      ? head
      : `${head} ${formatMs(r.durationMs).padStart(8)}${formatRss(r)}${r.skipReason === undefined ? "" : `  (${r.skipReason})`}`
  ]
  for (const w of r.warnings) {
    lines.push(`      warning: ${w.message}`)
    if (w.remediation !== undefined) lines.push(`      fix: ${w.remediation}`)
  }
  if (r.error !== undefined) {
    lines.push(`      error [${r.error.tag}]: ${r.error.message}`)
    lines.push(`      fix: ${r.error.remediation}`)
  }
  return lines.join("\n")
}

/** The stage during which the process's RSS peaked highest, when the trace records peaks. */
export const peakStage = (results: ReadonlyArray<StageResult>): StageResult | undefined =>
  results.reduce<StageResult | undefined>(
    (top, r) => (r.peakRssMb !== undefined && (top === undefined || r.peakRssMb > top.peakRssMb!) ? r : top),
    undefined
  )

/** The run's last line: its outcome and duration, and which stage made the process peak. */
export const formatFinished = (report: PipelineReport): string => {
  const top = peakStage(report.results)
  return `${report.pipeline} ${report.outcome} in ${formatMs(report.durationMs)}${
    top === undefined ? "" : ` · peak rss ${Math.round(top.peakRssMb!)} MB during ${top.stage}`
  }`
}

export const make = (
  output: Output = { write: (t) => void process.stderr.write(t), isTTY: process.stderr.isTTY === true }
): TraceSink => {
  let progressShown = false
  let lastPlainProgress = 0
  const clearProgress = () => {
    if (progressShown) output.write("\r\x1b[2K")
    progressShown = false
  }
  const line = (text: string) => {
    clearProgress()
    output.write(`${text}\n`)
  }
  return {
    emit: (event: TraceEvent) =>
      Effect.sync(() => {
        switch (event.type) {
          case "pipeline-started":
            return line(`${event.run ?? event.pipeline}: ${event.stages.length} stages`)
          case "stage-started":
            return
          case "progress": {
            if (output.isTTY) {
              output.write(`\r\x1b[2K${formatProgress(event)}`)
              progressShown = true
            } else if (Date.now() - lastPlainProgress >= 5000 || event.done === event.total) {
              lastPlainProgress = Date.now()
              line(formatProgress(event))
            }
            return
          }
          case "warning":
            return
          case "stage-finished":
            return line(formatResult(event.result))
          case "pipeline-finished":
            return line(formatFinished(event.run === undefined ? event.report : { ...event.report, pipeline: event.run }))
        }
      })
  }
}
