/**
 * Reading a synthesis's trace: every event carries its run's label (the
 * synthesis runner sets it), so stages are filed by label however the runs
 * interleave, and the trace is drawn as one picture of sibling runs, whose
 * outcome is the worst run's.
 */
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import type { StageResult } from "../../src/pipeline/StageResult.ts"
import type { TraceEvent } from "../../src/pipeline/TraceEvent.ts"
import * as SynthesisTrace from "../../src/observability/synthesisTrace.ts"

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0, ms)).toISOString()

const CHUNK = ["tokenize", "semantic", "post"]

const result = (stage: string, ms: number, fields: Partial<StageResult> = {}): StageResult => ({
  stage,
  outcome: "succeeded",
  startedAt: at(ms),
  durationMs: 1,
  attempts: 1,
  metadata: {},
  warnings: [],
  ...fields
})

/** The events of run `run` (a label such as `synthesis/chunk 2`), made by hand. */
const runOf = (run: string) => {
  const pipeline = SynthesisTrace.pipelineOf(run)
  return {
    started: (stages: ReadonlyArray<string>, ms: number): TraceEvent => ({ type: "pipeline-started", at: at(ms), run, pipeline, stages }),
    begin: (stage: string, ms: number): TraceEvent => ({ type: "stage-started", at: at(ms), run, stage, purpose: stage }),
    end: (stage: string, ms: number, fields: Partial<StageResult> = {}): TraceEvent => ({
      type: "stage-finished",
      at: at(ms + 1),
      run,
      result: result(stage, ms, fields)
    }),
    finished: (results: ReadonlyArray<StageResult>, startMs: number, ms: number): TraceEvent => ({
      type: "pipeline-finished",
      at: at(ms),
      run,
      report: {
        pipeline,
        outcome: results.some((r) => r.outcome === "failed") ? "failed" : "succeeded",
        startedAt: at(startMs),
        durationMs: ms - startMs,
        results
      }
    })
  }
}

const prepareRun = runOf("synthesis/prepare")
const prepare: ReadonlyArray<TraceEvent> = [
  prepareRun.started(["split"], 0),
  prepareRun.begin("split", 0),
  prepareRun.end("split", 0, { metadata: { chunks: 2 } }),
  prepareRun.finished([result("split", 0)], 0, 2)
]

/** Chunk `n` (from 1) with its stages one after another from `ms`; `failing` fails there, and the stages after it do not run. */
const chunkRun = (n: number, ms: number, failing?: string): ReadonlyArray<TraceEvent> => {
  const run = runOf(`synthesis/chunk ${n}`)
  const failedAt = failing === undefined ? CHUNK.length : CHUNK.indexOf(failing)
  const results = CHUNK.map((stage, i): StageResult =>
    i < failedAt
      ? result(stage, ms + i * 2)
      : i === failedAt
      ? result(stage, ms + i * 2, { outcome: "failed", error: { tag: "Boom", message: "no", remediation: "fix it" } })
      : { stage, outcome: "not-run", durationMs: 0, attempts: 0, metadata: {}, warnings: [] }
  )
  return [
    run.started(CHUNK, ms),
    ...results.flatMap((r, i) => r.outcome === "not-run" ? [] : [run.begin(r.stage, ms + i * 2), run.end(r.stage, ms + i * 2, r)]),
    run.finished(results, ms, ms + 10)
  ]
}

const rows = (svg: string) => [...svg.matchAll(/data-stage="([^"]*)" data-state="([^"]*)"/g)].map((m) => `${m[1]}=${m[2]}`)

describe("observability/synthesisTrace", () => {
  it("files each stage under the run its label names, however the runs interleave", () => {
    const one = runOf("synthesis/chunk 1")
    const two = runOf("synthesis/chunk 2")
    const events: ReadonlyArray<TraceEvent> = [
      ...prepare,
      one.started(CHUNK, 10),
      two.started(CHUNK, 10),
      two.begin("semantic", 11),
      one.begin("semantic", 11),
      two.end("semantic", 12),
      one.end("semantic", 14, { outcome: "warned" }),
      one.finished([result("semantic", 11)], 10, 15)
    ]
    expect(SynthesisTrace.stages(events).map((s) => `${s.pipeline}#${s.chunk}:${s.stage}:${s.outcome}`)).toEqual([
      "synthesis/prepare#null:split:succeeded",
      "synthesis/chunk#1:semantic:succeeded",
      "synthesis/chunk#0:semantic:warned"
    ])
    expect(SynthesisTrace.recipeOf(events)).toBe("synthesis")
  })

  it("draws every run's stages in one picture titled as asked, named after their run", async () => {
    const events = [...prepare, ...chunkRun(1, 10), ...chunkRun(2, 30)]
    const svg = await Effect.runPromise(SynthesisTrace.toSvg(events, "synthesis /synthesize"))
    expect(rows(svg)).toEqual([
      "prepare · split=succeeded",
      ...CHUNK.map((s) => `chunk 1 · ${s}=succeeded`),
      ...CHUNK.map((s) => `chunk 2 · ${s}=succeeded`)
    ])
    expect(svg).toContain("synthesis /synthesize — succeeded")
  })

  it("a failed chunk makes the picture failed; a chunk that never finished makes it interrupted", async () => {
    const failed = [...prepare, ...chunkRun(1, 10), ...chunkRun(2, 30, "semantic")]
    const svg = await Effect.runPromise(SynthesisTrace.toSvg(failed, "synthesis"))
    expect(svg).toContain("synthesis — failed")
    expect(rows(svg)).toContain("chunk 2 · semantic=failed")
    expect(rows(svg)).toContain("chunk 2 · post=not-run")

    const cut = [...prepare, ...chunkRun(1, 10), ...chunkRun(2, 30).slice(0, -2)] // chunk 2 stops in its post stage
    const partial = await Effect.runPromise(SynthesisTrace.toSvg(cut, "synthesis"))
    expect(partial).toContain("synthesis — interrupted")
    expect(rows(partial)).toContain("chunk 2 · post=interrupted")
  })

  it("an empty trace has nothing to draw: TimelineError", async () => {
    expect(await Effect.runPromise(Effect.flip(SynthesisTrace.toSvg([], "synthesis")))).toMatchObject({ _tag: "TimelineError" })
  })

  it("a recorder keeps the events, the outcome of the first finish and the status", async () => {
    const recorder = SynthesisTrace.recorder({ id: "r-1", route: "/synthesize" })
    expect(recorder.document()).toMatchObject({ id: "r-1", route: "/synthesize", recipe: null, outcome: "running", finishedAt: null, status: null, events: [] })
    await Effect.runPromise(Effect.forEach(prepare, recorder.onTrace))
    await Effect.runPromise(recorder.finish(Exit.fail("boom")))
    await Effect.runPromise(recorder.finish(Exit.void))
    recorder.setStatus(500)
    const document = recorder.document()
    expect(document).toMatchObject({ recipe: "synthesis", outcome: "failed", status: 500 })
    expect(document.events).toHaveLength(prepare.length)
    expect(document.stages.map((s) => s.stage)).toEqual(["split"])
    const interrupted = SynthesisTrace.recorder({ id: "r-2", route: "job", attempt: 2 })
    await Effect.runPromise(interrupted.finish(Exit.void, "interrupted"))
    expect(interrupted.document()).toMatchObject({ outcome: "interrupted", attempt: 2 })
  })
})
