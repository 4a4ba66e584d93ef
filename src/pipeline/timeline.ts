/**
 * A finished run as a picture: one horizontal bar per stage, placed by its
 * start time and sized by its duration, coloured by outcome, with warnings
 * marked and the process's RSS drawn underneath — like `systemd-analyze plot`.
 *
 * `fromTrace` turns trace events into a `Timeline` (times relative to the
 * pipeline's start); `toSvg` draws it as a self-contained SVG string. Both
 * are pure and know nothing of what the stages do. A trace of several runs
 * — a service request's synthesis runs side by side, or the CLI's run with
 * them inside one of its stages — is drawn as one picture (see `fromTrace`).
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { EnvironmentSummary, Outcome, StageError } from "./StageResult.ts"
import type { TraceEvent } from "./TraceEvent.ts"

/** A stage's state in the picture: its outcome, or `interrupted` when the run stopped while it ran. */
export type RowState = Outcome | "interrupted"

export interface TimelineWarning {
  /** Milliseconds since the pipeline started. */
  readonly atMs: number
  readonly message: string
  readonly remediation: string | undefined
}

export interface TimelineStage {
  readonly name: string
  readonly purpose: string | undefined
  readonly state: RowState
  /** Milliseconds since the pipeline started; undefined for stages that did not run. */
  readonly startMs: number | undefined
  readonly durationMs: number
  readonly rssBeforeMb: number | undefined
  readonly rssAfterMb: number | undefined
  /** The highest RSS during the stage, where the trace records it. */
  readonly peakRssMb: number | undefined
  readonly warnings: ReadonlyArray<TimelineWarning>
  readonly skipReason: string | undefined
  readonly error: StageError | undefined
}

export interface Timeline {
  readonly pipeline: string
  /** The run's outcome, or `interrupted` when the trace has no pipeline-finished event. */
  readonly outcome: "succeeded" | "warned" | "failed" | "interrupted"
  readonly startedAt: string
  readonly durationMs: number
  readonly environment: EnvironmentSummary | undefined
  readonly stages: ReadonlyArray<TimelineStage>
}

export class TimelineError extends Schema.TaggedError<TimelineError>()("TimelineError", {
  message: Schema.String,
  remediation: Schema.String
}) {}

/** Fill colour per state; the legend and the bars use the same values. */
export const stateColors: Readonly<Record<RowState, string>> = {
  succeeded: "#3f9a4a",
  warned: "#e8a317",
  skipped: "#a3a9b1",
  failed: "#d64541",
  "not-run": "#ffffff",
  interrupted: "#7b5ea7"
}

/** One run of a trace: its events, and where each stands in the trace. */
interface Run {
  /** Its run label, or for an unlabelled run its pipeline's name. */
  readonly name: string
  readonly labelled: boolean
  readonly events: Array<TraceEvent>
  readonly indices: Array<number>
}

/**
 * The runs of a trace, in the order they started: events that name their run
 * go to it; the others to the innermost run started and not yet finished.
 */
const runsOf = (events: ReadonlyArray<TraceEvent>): ReadonlyArray<Run> => {
  const runs = new Map<string, Run>()
  const open: Array<string> = []
  const add = (name: string, labelled: boolean, e: TraceEvent, index: number) => {
    const run = runs.get(name) ?? { name, labelled, events: [], indices: [] }
    runs.set(name, run)
    run.events.push(e)
    run.indices.push(index)
  }
  events.forEach((e, index) => {
    if (e.run !== undefined) return add(e.run, true, e, index)
    if (e.type === "pipeline-started") open.push(runs.has(e.pipeline) ? `${e.pipeline}#${runs.size}` : e.pipeline)
    add(open.at(-1) ?? "", false, e, index)
    if (e.type === "pipeline-finished") open.pop()
  })
  return [...runs.values()]
}

/** Whether every event of `others` comes before `run`'s pipeline-finished (or `run` never finished). */
const encloses = (run: Run, others: ReadonlyArray<Run>) => {
  const end = run.events.findIndex((e) => e.type === "pipeline-finished")
  return end < 0 || others.every((other) => other.indices.at(-1)! < run.indices[end]!)
}

/** `run`'s rows among those of a timeline that starts at `t0`: named after the run (`<name> · <stage>`), their times shifted. */
const rowsOf = (run: Timeline, name: string, t0: number): ReadonlyArray<TimelineStage> => {
  const shift = Date.parse(run.startedAt) - t0
  return run.stages.map((stage) => ({
    ...stage,
    name: `${name} · ${stage.name}`,
    startMs: stage.startMs === undefined ? undefined : stage.startMs + shift,
    warnings: stage.warnings.map((w) => ({ ...w, atMs: w.atMs + shift }))
  }))
}

/** Rows in the order they started; stages that did not run last, in their order. */
const byStart = (rows: ReadonlyArray<TimelineStage>): ReadonlyArray<TimelineStage> => {
  const order = (s: TimelineStage) => s.startMs ?? Number.POSITIVE_INFINITY
  return rows.map((s, i) => ({ s, i })).sort((a, b) => order(a.s) - order(b.s) || a.i - b.i).map(({ s }) => s)
}

/** How bad each outcome is, for the worst of several runs'. */
const severity: Readonly<Record<Timeline["outcome"], number>> = { succeeded: 0, warned: 1, interrupted: 2, failed: 3 }

/** The labels' shared prefix up to and including its last "/" (`synthesis/` of `synthesis/prepare`, `synthesis/chunk 2`). */
const sharedPrefix = (labels: ReadonlyArray<string>) => {
  const first = labels[0] ?? ""
  let n = 0
  while (n < first.length && labels.every((l) => l[n] === first[n])) n++
  const shared = first.slice(0, n)
  return shared.slice(0, shared.lastIndexOf("/") + 1)
}

/**
 * Options for {@link fromTrace}.
 *
 * @since 0.5.0
 */
export interface TimelineOptions {
  /** The picture's title, instead of the (first) run's pipeline. */
  readonly title?: string
}

/**
 * Reads trace events into a timeline. A trace of several runs gives one
 * picture, in one of two shapes:
 *
 * - the first run encloses the others (every event of theirs comes before
 *   its pipeline-finished, or it never finished) — the CLI's startup run,
 *   with a synthesis's runs inside its `synthesize` stage: the first run's
 *   picture, with the others' stages among its rows in the order they
 *   started, named after their run (`synthesis/chunk 2 · semantic`);
 * - the runs are siblings — a service request's `prepare` run and its chunk
 *   runs: every run's stages, in the order they started, named after their
 *   run without the prefix all labels share (`prepare · split`,
 *   `chunk 2 · semantic`); the outcome is the worst run's (a run without its
 *   pipeline-finished is `interrupted`), the time from the first start to
 *   the last end. A trace of one labelled run (a request that stopped in
 *   `prepare`) is drawn so too, so that its rows are named as the request's
 *   always are.
 *
 * Fails when the trace holds no stage at all.
 */
export const fromTrace = (events: ReadonlyArray<TraceEvent>, options: TimelineOptions = {}): Effect.Effect<Timeline, TimelineError> =>
  Effect.suspend(() => {
    const titled = (timeline: Timeline): Timeline => options.title === undefined ? timeline : { ...timeline, pipeline: options.title }
    const runs = runsOf(events)
    const [first, ...others] = runs
    if (first === undefined || (others.length === 0 && !first.labelled)) return Effect.map(oneRun(events), titled)
    return Effect.map(Effect.forEach(runs, (run) => oneRun(run.events)), (timelines): Timeline => {
      if (others.length > 0 && encloses(first, others)) {
        const [outer, ...inner] = timelines
        const t0 = Date.parse(outer!.startedAt)
        return titled({
          ...outer!,
          durationMs: Math.max(outer!.durationMs, ...inner.map((run) => Date.parse(run.startedAt) - t0 + run.durationMs)),
          stages: byStart([...outer!.stages, ...inner.flatMap((run, i) => rowsOf(run, others[i]!.name, t0))])
        })
      }
      const prefix = sharedPrefix(runs.map((run) => run.name))
      const earliest = timelines.reduce((a, b) => Date.parse(b.startedAt) < Date.parse(a.startedAt) ? b : a)
      const t0 = Date.parse(earliest.startedAt)
      return titled({
        ...timelines[0]!,
        outcome: timelines.map((run) => run.outcome).reduce((a, b) => severity[b] > severity[a] ? b : a),
        startedAt: earliest.startedAt,
        durationMs: Math.max(...timelines.map((run) => Date.parse(run.startedAt) - t0 + run.durationMs)),
        stages: byStart(timelines.flatMap((run, i) => rowsOf(run, runs[i]!.name.slice(prefix.length), t0)))
      })
    })
  })

/** One run's events as its timeline. */
const oneRun = (events: ReadonlyArray<TraceEvent>): Effect.Effect<Timeline, TimelineError> =>
  Effect.suspend(() => {
    let started: Extract<TraceEvent, { type: "pipeline-started" }> | undefined
    let finished: Extract<TraceEvent, { type: "pipeline-finished" }> | undefined
    const purposes = new Map<string, string>()
    const stageStarts = new Map<string, string>()
    const warningTimes = new Map<string, Array<string>>()
    const results = new Map<string, Extract<TraceEvent, { type: "stage-finished" }>["result"]>()
    let lastAt: string | undefined
    for (const e of events) {
      lastAt = e.at
      switch (e.type) {
        case "pipeline-started":
          started = e
          break
        case "stage-started":
          purposes.set(e.stage, e.purpose)
          stageStarts.set(e.stage, e.at)
          break
        case "warning":
          warningTimes.set(e.stage, [...(warningTimes.get(e.stage) ?? []), e.at])
          break
        case "stage-finished":
          results.set(e.result.stage, e.result)
          break
        case "pipeline-finished":
          finished = e
          break
      }
    }
    const names = finished?.report.results.map((r) => r.stage) ?? started?.stages ?? [...results.keys()]
    if (names.length === 0) {
      return Effect.fail(
        new TimelineError({
          message: "the trace records no stages: it is empty or the run stopped before its first stage",
          remediation: "render the trace of a run that got at least to its first stage (`bark-pipeline run <pipeline> --trace <file>`)"
        })
      )
    }
    const startedAt = finished?.report.startedAt ?? started?.at ??
      [...stageStarts.values()].sort()[0] ?? lastAt ?? new Date(0).toISOString()
    const t0 = Date.parse(startedAt)
    const offset = (at: string) => Math.max(0, Date.parse(at) - t0)

    const stages = names.map((name): TimelineStage => {
      const result = finished?.report.results.find((r) => r.stage === name) ?? results.get(name)
      const purpose = purposes.get(name)
      if (result === undefined) {
        const at = stageStarts.get(name)
        const interrupted = at !== undefined
        return {
          name,
          purpose,
          state: interrupted ? "interrupted" : "not-run",
          startMs: interrupted ? offset(at) : undefined,
          durationMs: interrupted && lastAt !== undefined ? offset(lastAt) - offset(at) : 0,
          rssBeforeMb: undefined,
          rssAfterMb: undefined,
          peakRssMb: undefined,
          warnings: [],
          skipReason: undefined,
          error: undefined
        }
      }
      const startMs = result.startedAt === undefined ? undefined : offset(result.startedAt)
      const times = warningTimes.get(name) ?? []
      return {
        name,
        purpose,
        state: result.outcome,
        startMs,
        durationMs: result.durationMs,
        rssBeforeMb: result.rssBeforeMb,
        rssAfterMb: result.rssAfterMb,
        peakRssMb: result.peakRssMb,
        warnings: result.warnings.map((w, i) => ({
          // Timestamps have millisecond resolution: keep a warning inside the stage that raised it.
          atMs: times[i] === undefined
            ? (startMs ?? 0) + result.durationMs
            : Math.min(Math.max(offset(times[i]), startMs ?? 0), (startMs ?? 0) + result.durationMs),
          message: w.message,
          remediation: w.remediation
        })),
        skipReason: result.skipReason,
        error: result.error
      }
    })
    const ends = stages.map((s) => (s.startMs ?? 0) + s.durationMs)
    return Effect.succeed({
      pipeline: finished?.report.pipeline ?? started?.pipeline ?? "pipeline",
      outcome: finished?.report.outcome ?? "interrupted",
      startedAt,
      durationMs: Math.max(finished?.report.durationMs ?? 0, ...ends),
      environment: finished?.report.environment,
      stages
    })
  })

/** Renders trace events straight to SVG (see {@link fromTrace}). */
export const render = (events: ReadonlyArray<TraceEvent>, options: TimelineOptions = {}): Effect.Effect<string, TimelineError> =>
  Effect.map(fromTrace(events, options), toSvg)

// ---------------------------------------------------------------------------
// Drawing

const width = 1000
const charWidth = 7.2 // of the 12px monospace font: layout depends on text width, so the font is monospace
const rowHeight = 24
const barHeight = 14
const rssHeight = 110
const font = `font-family="DejaVu Sans Mono, Menlo, Consolas, monospace"`

// Characters XML 1.0 does not allow, even escaped.
const invalidXml = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g

/** Escapes text for SVG content and attribute values. */
export const escapeXml = (text: string): string =>
  text.replace(invalidXml, "\uFFFD").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&apos;")

/** Shortens text to `max` characters, ending with an ellipsis when cut. */
const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`)

const num = (n: number) => String(Math.round(n * 10) / 10)

export const formatDuration = (ms: number): string => {
  if (ms === 0) return "0"
  if (ms < 10) return `${Number(ms.toFixed(1))} ms`
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(2))} s`
  const minutes = Math.floor(ms / 60_000)
  return `${minutes} min ${Math.round((ms - minutes * 60_000) / 1000)} s`
}

/** A round step (1, 2 or 5 × 10^k) that cuts `range` into about `count` parts. */
const niceStep = (range: number, count: number) => {
  const raw = Math.max(range, Number.EPSILON) / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  return [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude
}

const text = (x: number, y: number, content: string, attrs = "") =>
  `<text x="${num(x)}" y="${num(y)}"${attrs === "" ? "" : ` ${attrs}`}>${escapeXml(content)}</text>`

const title = (lines: ReadonlyArray<string>) => `<title>${escapeXml(lines.join("\n"))}</title>`

const describe = (s: TimelineStage): ReadonlyArray<string> => [
  `${s.name}: ${s.state}${s.state === "not-run" ? "" : ` in ${formatDuration(s.durationMs)}`}`,
  ...(s.purpose === undefined ? [] : [s.purpose]),
  ...(s.rssBeforeMb === undefined || s.rssAfterMb === undefined
    ? []
    : [`rss ${s.rssBeforeMb} → ${s.rssAfterMb} MB${s.peakRssMb === undefined ? "" : `, peak ${s.peakRssMb} MB`}`]),
  ...(s.skipReason === undefined ? [] : [`skipped: ${s.skipReason}`]),
  ...s.warnings.flatMap((w) => [`warning: ${w.message}`, ...(w.remediation === undefined ? [] : [`fix: ${w.remediation}`])]),
  ...(s.error === undefined ? [] : [`error [${s.error.tag}]: ${s.error.message}`, `fix: ${s.error.remediation}`])
]

const environmentLine = (env: EnvironmentSummary | undefined) =>
  env === undefined
    ? undefined
    : [
      `node ${env.node}`,
      env.platform,
      `${env.cpuCount} × ${env.cpuModel}`,
      `${Math.round(env.totalMemoryMb / 1024)} GB`,
      ...(env.onnxruntime === undefined
        ? []
        : [`onnxruntime ${env.onnxruntime.version} (${env.onnxruntime.executionProviders.join(", ")})`]),
      ...(env.gpu === undefined ? [] : [env.gpu])
    ].join(" · ")

/** The stage during which the process's RSS peaked highest, when the trace records peaks. */
export const peakStage = (timeline: Timeline): TimelineStage | undefined =>
  timeline.stages.reduce<TimelineStage | undefined>(
    (top, s) =>
      s.peakRssMb !== undefined && s.startMs !== undefined && (top === undefined || s.peakRssMb > top.peakRssMb!) ? s : top,
    undefined
  )

/** Draws a timeline as a standalone SVG document. */
export const toSvg = (timeline: Timeline): string => {
  const { stages } = timeline
  const highestPeak = peakStage(timeline)
  const labelWidth = Math.min(260, Math.max(90, Math.max(...stages.map((s) => s.name.length)) * charWidth + 24))
  const left = labelWidth
  const right = width - 24
  const span = Math.max(timeline.durationMs, 1)
  const x = (ms: number) => left + (Math.min(ms, span) / span) * (right - left)
  const maxChars = Math.floor((width - 40) / charWidth)

  const out: Array<string> = []
  let y = 28
  out.push(text(20, y, clip(`${timeline.pipeline} — ${timeline.outcome} in ${formatDuration(timeline.durationMs)}`, 60), `font-size="16" font-weight="bold"`))
  y += 18
  const env = environmentLine(timeline.environment)
  out.push(text(20, y, clip(`started ${timeline.startedAt}${env === undefined ? "" : ` · ${env}`}`, maxChars + 8), `font-size="11" fill="#555"`))
  y += 22

  // Legend: every outcome, plus `interrupted` when it occurs.
  const legend: ReadonlyArray<RowState> = [
    "succeeded",
    "warned",
    "skipped",
    "failed",
    "not-run",
    ...(stages.some((s) => s.state === "interrupted") ? ["interrupted" as const] : [])
  ]
  let lx = 20
  for (const state of legend) {
    out.push(
      `<rect class="legend" data-state="${state}" x="${num(lx)}" y="${y - 10}" width="12" height="12" fill="${stateColors[state]}" stroke="#555" stroke-width="0.6"${
        state === "not-run" ? ` stroke-dasharray="2 2"` : ""
      }/>`
    )
    out.push(text(lx + 17, y, state))
    lx += 17 + state.length * charWidth + 22
  }
  out.push(`<path d="M${num(lx + 6)} ${y + 1} l-6 -10 h12 z" fill="#222"/>`)
  out.push(text(lx + 17, y, "warning"))
  y += 20

  // Time axis and grid, over the rows and the RSS panel.
  const rowsTop = y + 8
  const rowsBottom = rowsTop + stages.length * rowHeight
  const rssTop = rowsBottom + 34
  const rssBottom = rssTop + rssHeight
  const step = niceStep(span, 8)
  const grid: Array<string> = []
  for (let t = 0; t <= span + step / 1000; t += step) {
    grid.push(`<line x1="${num(x(t))}" y1="${rowsTop - 4}" x2="${num(x(t))}" y2="${rssBottom}" stroke="#e3e3e3"/>`)
    grid.push(text(x(t), rowsTop - 8, formatDuration(t), `font-size="10" fill="#777" text-anchor="middle"`))
  }
  out.push(`<g class="grid">${grid.join("")}</g>`)

  // One row per stage.
  stages.forEach((s, i) => {
    const top = rowsTop + i * rowHeight
    const mid = top + rowHeight / 2
    const barTop = mid - barHeight / 2
    const row: Array<string> = []
    if (i % 2 === 1) row.push(`<rect x="0" y="${top}" width="${width}" height="${rowHeight}" fill="#f7f7f7"/>`)
    row.push(text(left - 10, mid + 4, clip(s.name, Math.floor((labelWidth - 16) / charWidth)), `text-anchor="end"`))
    // Stages that never ran sit where the run stopped, as hollow markers.
    const startMs = s.startMs ?? Math.max(0, ...stages.map((o) => (o.startMs ?? 0) + o.durationMs))
    const bx = x(startMs)
    const bw = s.state === "not-run" ? 10 : Math.max(2, x(startMs + s.durationMs) - bx)
    row.push(
      `<rect class="bar" data-stage="${escapeXml(s.name)}" data-state="${s.state}" x="${num(bx)}" y="${num(barTop)}" width="${num(bw)}" height="${barHeight}" rx="2" fill="${stateColors[s.state]}"${
        s.state === "not-run" ? ` stroke="#888" stroke-dasharray="2 2"` : ""
      }/>`
    )
    const label = s.state === "not-run" ? "not run" : s.state === "skipped" ? `skipped · ${formatDuration(s.durationMs)}` : formatDuration(s.durationMs)
    const labelW = label.length * charWidth
    if (bx + bw + 6 + labelW <= width - 4) row.push(text(bx + bw + 6, mid + 4, label, `fill="#333"`))
    else if (bx - 6 - labelW >= left) row.push(text(bx - 6, mid + 4, label, `fill="#333" text-anchor="end"`))
    else row.push(text(bx + bw - 6, mid + 4, label, `fill="#fff" text-anchor="end"`))
    for (const w of s.warnings) {
      const wx = x(w.atMs)
      row.push(`<path class="warning" d="M${num(wx)} ${num(barTop + 1)} l-5 -8 h10 z" fill="#222">${title([w.message, ...(w.remediation === undefined ? [] : [`fix: ${w.remediation}`])])}</path>`)
    }
    const peakNote = s === highestPeak ? [`the run's highest RSS: ${s.peakRssMb} MB`] : []
    out.push(`<g class="stage">${title([...describe(s), ...peakNote])}${row.join("")}</g>`)
  })

  // RSS: the process's resident memory at each stage's start and end.
  const points = stages.flatMap((s) =>
    s.startMs === undefined || s.rssBeforeMb === undefined || s.rssAfterMb === undefined
      ? []
      : [[s.startMs, s.rssBeforeMb], [s.startMs + s.durationMs, s.rssAfterMb]] as const
  )
  // Peaks: the highest RSS during each stage, drawn over the stage's span (the moment is not recorded).
  const peaks = stages.flatMap((s) =>
    s.startMs === undefined || s.peakRssMb === undefined ? [] : [{ stage: s, start: s.startMs, end: s.startMs + s.durationMs, mb: s.peakRssMb }]
  )
  out.push(
    text(20, rssTop - 12, `resident memory (RSS, MB)${peaks.length === 0 ? "" : " — dashed: peak during each stage"}`, `font-weight="bold"`)
  )
  if (points.length === 0) {
    out.push(text(left, rssTop + rssHeight / 2, "no RSS samples in this trace", `fill="#777"`))
  } else {
    const values = [...points.map(([, mb]) => mb), ...peaks.map((p) => p.mb)]
    // At least 1 MB per gridline: smaller changes are noise.
    const rssStep = niceStep(Math.max(4, Math.max(...values) - Math.min(...values)), 4)
    const lo = Math.floor(Math.min(...values) / rssStep) * rssStep
    const hi = Math.max(lo + rssStep, Math.ceil(Math.max(...values) / rssStep) * rssStep)
    const yOf = (mb: number) => rssBottom - ((mb - lo) / (hi - lo)) * rssHeight
    const axis: Array<string> = []
    for (let mb = lo; mb <= hi + rssStep / 1000; mb += rssStep) {
      axis.push(`<line x1="${left}" y1="${num(yOf(mb))}" x2="${right}" y2="${num(yOf(mb))}" stroke="#e3e3e3"/>`)
      axis.push(text(left - 10, yOf(mb) + 4, `${Number(mb.toFixed(1))}`, `font-size="10" fill="#777" text-anchor="end"`))
    }
    out.push(`<g class="rss-axis">${axis.join("")}</g>`)
    const coords = points.map(([t, mb]) => `${num(x(t))},${num(yOf(mb))}`)
    const first = points[0]![0]
    const last = points[points.length - 1]![0]
    out.push(`<polygon points="${num(x(first))},${rssBottom} ${coords.join(" ")} ${num(x(last))},${rssBottom}" fill="#2f6db5" fill-opacity="0.1"/>`)
    out.push(`<polyline class="rss" points="${coords.join(" ")}" fill="none" stroke="#2f6db5" stroke-width="1.6"/>`)
    out.push(
      points.map(([t, mb]) => `<circle cx="${num(x(t))}" cy="${num(yOf(mb))}" r="2.2" fill="#2f6db5">${title([`${formatDuration(t)}: ${mb} MB`])}</circle>`).join("")
    )
    for (const p of peaks) {
      const highest = p.stage === highestPeak
      const x1 = x(p.start)
      const x2 = Math.max(x1 + 3, x(p.end))
      const py = yOf(p.mb)
      const color = highest ? "#c0392b" : "#2f6db5"
      out.push(
        `<g class="rss-peak" data-stage="${escapeXml(p.stage.name)}" data-peak-mb="${p.mb}"${highest ? ` data-highest="true"` : ""}>${
          title([`${p.stage.name}: peak ${p.mb} MB`, ...(highest ? ["the run's highest RSS"] : [])])
        }<line x1="${num(x1)}" y1="${num(py)}" x2="${num(x2)}" y2="${num(py)}" stroke="${color}" stroke-width="${highest ? 2 : 1.4}" stroke-dasharray="4 2"/><path d="M${
          num((x1 + x2) / 2)
        } ${num(py)} l-4 -6 h8 z" fill="${color}"/></g>`
      )
    }
    if (highestPeak !== undefined) {
      const p = peaks.find((q) => q.stage === highestPeak)!
      const label = `peak ${p.mb} MB during ${highestPeak.name}`
      const lxPeak = x(p.start)
      const anchorEnd = lxPeak + label.length * charWidth > right
      out.push(
        text(anchorEnd ? Math.max(x(p.end), left + label.length * charWidth) : lxPeak, yOf(p.mb) + 14, label, `class="rss-peak-label" fill="#c0392b"${anchorEnd ? ` text-anchor="end"` : ""}`)
      )
    }
  }
  y = rssBottom + 30

  // What went wrong, in words: warnings and the error, with their fixes.
  const notes = stages.flatMap((s) => [
    ...s.warnings.flatMap((w) => [
      { color: stateColors.warned, line: `${s.name}: ${w.message}` },
      ...(w.remediation === undefined ? [] : [{ color: undefined, line: `  fix: ${w.remediation}` }])
    ]),
    ...(s.error === undefined ? [] : [
      { color: stateColors.failed, line: `${s.name} [${s.error.tag}]: ${s.error.message}` },
      { color: undefined, line: `  fix: ${s.error.remediation}` }
    ])
  ])
  for (const note of notes) {
    if (note.color !== undefined) out.push(`<rect x="20" y="${y - 9}" width="8" height="8" fill="${note.color}"/>`)
    out.push(text(34, y, clip(note.line, maxChars - 3), note.color === undefined ? `fill="#555"` : ""))
    y += 16
  }
  const height = y + (notes.length > 0 ? 8 : -6)

  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${font} font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...out,
    `</svg>`,
    ""
  ].join("\n")
}
