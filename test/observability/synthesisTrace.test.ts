/**
 * Reading a synthesis's trace: events filed under the run they belong to
 * (prepare, then chunk runs, one after another or interleaved; by their run
 * label, or by rule for unlabelled ones), and the trace drawn as one
 * pipeline.
 */
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import type { StageResult } from "../../src/pipeline/StageResult.ts"
import type { TraceEvent } from "../../src/pipeline/TraceEvent.ts"
import * as SynthesisTrace from "../../src/observability/synthesisTrace.ts"

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0, ms)).toISOString()

const CHUNK = ["tokenize", "semantic", "post"]

const started = (pipeline: string, stages: ReadonlyArray<string>, ms: number): TraceEvent => ({ type: "pipeline-started", at: at(ms), pipeline, stages })
const begin = (stage: string, ms: number): TraceEvent => ({ type: "stage-started", at: at(ms), stage, purpose: stage })
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
const end = (stage: string, ms: number, fields: Partial<StageResult> = {}): TraceEvent => ({ type: "stage-finished", at: at(ms + 1), result: result(stage, ms, fields) })
const finished = (pipeline: string, results: ReadonlyArray<StageResult>, ms: number): TraceEvent => ({
  type: "pipeline-finished",
  at: at(ms),
  report: { pipeline, outcome: results.some((r) => r.outcome === "failed") ? "failed" : "succeeded", startedAt: at(0), durationMs: ms, results }
})

/** A chunk run with stages one after another from `ms`. */
const chunkRun = (index: number, ms: number): ReadonlyArray<TraceEvent> => [
  started("synthesis/chunk", CHUNK, ms),
  ...CHUNK.flatMap((stage, i) => [begin(stage, ms + i * 2), end(stage, ms + i * 2, stage === "tokenize" ? { metadata: { chunk: index } } : {})]),
  finished("synthesis/chunk", CHUNK.map((stage, i) => result(stage, ms + i * 2)), ms + 10)
]

const prepare: ReadonlyArray<TraceEvent> = [
  started("synthesis/prepare", ["split"], 0),
  begin("split", 0),
  end("split", 0, { metadata: { chunks: 2 } }),
  finished("synthesis/prepare", [result("split", 0)], 2)
]

const filed = (events: ReadonlyArray<TraceEvent>) => SynthesisTrace.stages(events).map((s) => `${s.pipeline}#${s.chunk}:${s.stage}`)

describe("observability/synthesisTrace", () => {
  it("files each stage under its run: prepare, then chunk 0, chunk 1", () => {
    const events = [...prepare, ...chunkRun(0, 10), ...chunkRun(1, 30)]
    expect(filed(events)).toEqual([
      "synthesis/prepare#null:split",
      ...CHUNK.map((s) => `synthesis/chunk#0:${s}`),
      ...CHUNK.map((s) => `synthesis/chunk#1:${s}`)
    ])
    expect(SynthesisTrace.recipeOf(events)).toBe("synthesis")
  })

  it("files events labelled with their run under it, however the runs interleave", () => {
    const label = (run: string) => (e: TraceEvent): TraceEvent => ({ ...e, run })
    const one = label("synthesis/chunk 1")
    const two = label("synthesis/chunk 2")
    const events: ReadonlyArray<TraceEvent> = [
      ...prepare.map(label("synthesis/prepare")),
      one(started("synthesis/chunk", CHUNK, 10)),
      two(started("synthesis/chunk", CHUNK, 10)),
      two(begin("semantic", 11)),
      one(begin("semantic", 11)),
      two(end("semantic", 12)),
      one(end("semantic", 14, { outcome: "warned" })),
      one(finished("synthesis/chunk", [result("semantic", 11)], 15))
    ]
    expect(SynthesisTrace.stages(events).map((s) => `${s.chunk}:${s.stage}:${s.outcome}`)).toEqual([
      "null:split:succeeded",
      "1:semantic:succeeded",
      "0:semantic:warned"
    ])
    const t = SynthesisTrace.tracker()
    for (const e of events) t.assign(e)
    expect(t.runs().map((r) => [r.label, r.chunk])).toEqual([["synthesis/prepare", undefined], ["synthesis/chunk 1", 0], ["synthesis/chunk 2", 1]])
    expect(t.allDone()).toBe(false)
    // drawn as one pipeline, the labels are gone: the timeline sees one run
    expect(SynthesisTrace.asOnePipeline(events, "x").every((e) => e.run === undefined)).toBe(true)
  })

  it("without labels, tells interleaved chunk runs apart: the oldest open run first, tokenize by the chunk it names", () => {
    const events: ReadonlyArray<TraceEvent> = [
      ...prepare,
      started("synthesis/chunk", CHUNK, 10),
      started("synthesis/chunk", CHUNK, 10),
      begin("tokenize", 11),
      begin("tokenize", 11),
      // chunk 1's tokenize finishes first, and says so
      end("tokenize", 12, { metadata: { chunk: 1 } }),
      end("tokenize", 13, { metadata: { chunk: 0 } }),
      begin("semantic", 14),
      begin("semantic", 14),
      end("semantic", 15),
      end("semantic", 16)
    ]
    expect(filed(events)).toEqual([
      "synthesis/prepare#null:split",
      "synthesis/chunk#1:tokenize",
      "synthesis/chunk#0:tokenize",
      "synthesis/chunk#0:semantic",
      "synthesis/chunk#1:semantic"
    ])
  })

  it("files the not-run stages after a failure under the run that failed", () => {
    const events: ReadonlyArray<TraceEvent> = [
      ...prepare,
      started("synthesis/chunk", CHUNK, 10),
      started("synthesis/chunk", CHUNK, 10),
      begin("tokenize", 11),
      end("tokenize", 11, { metadata: { chunk: 0 } }),
      begin("tokenize", 11),
      end("tokenize", 12, { outcome: "failed", metadata: { chunk: 1 }, error: { tag: "Boom", message: "no", remediation: "fix it" } }),
      end("semantic", 12, { outcome: "not-run" }),
      begin("semantic", 13)
    ]
    const records = SynthesisTrace.stages(events)
    expect(records.map((s) => `${s.chunk}:${s.stage}:${s.outcome}`)).toEqual([
      "null:split:succeeded",
      "0:tokenize:succeeded",
      "1:tokenize:failed",
      "1:semantic:not-run"
    ])
    // chunk 0 goes on: its semantic stage is its own
    const t = SynthesisTrace.tracker()
    const runs = events.map((e) => t.assign(e))
    expect(runs.at(-1)?.chunk).toBe(0)
  })

  it("draws the trace as one pipeline, each stage named after its run; without every run's end it is interrupted", async () => {
    const events = [...prepare, ...chunkRun(0, 10), ...chunkRun(1, 30)]
    const one = SynthesisTrace.asOnePipeline(events, "synthesis /synthesize")
    expect(one[0]).toMatchObject({
      type: "pipeline-started",
      pipeline: "synthesis /synthesize",
      stages: ["prepare · split", ...CHUNK.map((s) => `chunk 1 · ${s}`), ...CHUNK.map((s) => `chunk 2 · ${s}`)]
    })
    const last = one.at(-1)!
    expect(last.type === "pipeline-finished" && last.report.results.map((r) => r.stage)).toEqual((one[0] as any).stages)
    const svg = await Effect.runPromise(SynthesisTrace.toSvg(events, "synthesis /synthesize"))
    expect(svg).toContain(`data-stage="chunk 2 · semantic" data-state="succeeded"`)
    expect(svg).toContain("synthesis /synthesize — succeeded")

    const cut = events.slice(0, -3) // chunk 1 stops in its post stage
    const partial = SynthesisTrace.asOnePipeline(cut, "synthesis")
    expect(partial.some((e) => e.type === "pipeline-finished")).toBe(false)
    expect(await Effect.runPromise(SynthesisTrace.toSvg(cut, "synthesis"))).toContain("synthesis — interrupted")
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
