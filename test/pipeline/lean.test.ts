/**
 * A lean run, for pipelines that run once per request: the same record of
 * what happened as a full run, without probing the machine or measuring
 * memory — nothing process-wide is read or reset.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Option, Schedule, Schema, Tracer } from "effect"
import * as Memory from "../../src/pipeline/memory.ts"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"
import * as ConsoleSink from "../../src/pipeline/sinks/console.ts"
import * as MemorySink from "../../src/pipeline/sinks/memory.ts"
import * as Stage from "../../src/pipeline/Stage.ts"
import { StageFatal } from "../../src/pipeline/StageFatal.ts"
import type { PipelineReport, StageResult } from "../../src/pipeline/StageResult.ts"
import * as Timeline from "../../src/pipeline/timeline.ts"
import { TraceLine } from "../../src/pipeline/TraceEvent.ts"
import type { TraceEvent } from "../../src/pipeline/TraceEvent.ts"
import { Alpha, Beta, Gamma, makeStages, recordingTracer } from "./fixtures.ts"

/** A probe that counts every use: a lean run must not make any. */
const countingProbe = () => {
  const calls = { reset: 0, readMb: 0 }
  const probe: Memory.PeakRss = {
    reset: () => (calls.reset++, true),
    readMb: () => (calls.readMb++, 100)
  }
  return { calls, probe }
}

/** Alpha fails once and is retried, beta annotates, a second beta warns, gamma is skipped by config. */
const everything = () => {
  const s = makeStages()
  let calls = 0
  const flaky = Stage.make({
    name: "alpha",
    purpose: "fails once",
    provides: Alpha,
    build: Effect.suspend(() =>
      ++calls < 2 ? Effect.fail(new StageFatal({ message: `flake ${calls}`, remediation: "wait" })) : Effect.succeed({ value: 1 })
    ),
    retry: Schedule.recurs(2)
  })
  return Pipeline.make("lean", "every outcome but failure").pipe(
    Pipeline.add(flaky),
    Pipeline.add(s.beta),
    Pipeline.add(s.gamma),
    Pipeline.withConfig({ TEST_SKIP_GAMMA: "true" })
  )
}

/** What a run records that does not depend on the clock or the machine. */
const record = (results: ReadonlyArray<StageResult>) =>
  results.map(({ attempts, error, metadata, outcome, skipReason, stage, warnings }) => ({
    stage,
    outcome,
    attempts,
    metadata,
    warnings,
    skipReason,
    error
  }))

const services = (context: Context.Context<Alpha | Beta | Gamma>) =>
  [Context.get(context, Alpha), Context.get(context, Beta), Context.get(context, Gamma)]

const eventTypes = (events: ReadonlyArray<TraceEvent>) => events.map((e) => e.type === "warning" ? `warning ${e.message}` : e.type)

describe("lean runs", () => {
  it.effect("record the same outcomes, attempts, metadata, warnings and skips as a full run, and emit the same events", () =>
    Effect.gen(function*() {
      const fullSink = MemorySink.make()
      const leanSink = MemorySink.make()
      const full = yield* Runner.run(everything(), { sinks: [fullSink] })
      const lean = yield* Runner.run(everything(), { sinks: [leanSink], lean: true })
      assert.deepStrictEqual(record(lean.report.results), record(full.report.results))
      assert.deepStrictEqual(lean.report.results.map((r) => r.outcome), ["warned", "succeeded", "skipped"])
      assert.strictEqual(lean.report.outcome, full.report.outcome)
      assert.deepStrictEqual(eventTypes(leanSink.events), eventTypes(fullSink.events))
      assert.deepStrictEqual(services(lean.context), services(full.context))
    }))

  it.live("a failure, a timeout and the stages after them are recorded as in a full run", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const slow = Stage.make({
        name: "beta",
        purpose: "hangs",
        provides: Beta,
        build: Effect.never,
        timeout: "20 millis"
      })
      for (const beta of [s.failingBeta, slow]) {
        const p = () => Pipeline.make("f", "fails").pipe(Pipeline.add(s.alpha), Pipeline.add(beta), Pipeline.add(s.gamma))
        const full = yield* Effect.flip(Runner.run(p()))
        const lean = yield* Effect.flip(Runner.run(p(), { lean: true }))
        assert.deepStrictEqual(record(lean.report.results), record(full.report.results))
        assert.strictEqual(lean.errorTag, full.errorTag)
        assert.strictEqual(lean.remediation, full.remediation)
      }
    }))

  it.effect("do not touch the peak-RSS probe, and record no memory readings and no environment", () =>
    Effect.gen(function*() {
      const { calls, probe } = countingProbe()
      const lean = yield* Runner.run(everything(), { lean: true, probes: [Effect.succeed({ gpu: "probed" })] }).pipe(
        Effect.provideService(Memory.PeakRssProbe, probe)
      )
      assert.deepStrictEqual(calls, { reset: 0, readMb: 0 })
      for (const r of lean.report.results) {
        for (const field of ["rssBeforeMb", "rssAfterMb", "peakRssMb"]) assert.notProperty(r, field)
      }
      assert.notProperty(lean.report, "environment", "no probe ran, not even the caller's")

      const full = yield* Runner.run(everything()).pipe(Effect.provideService(Memory.PeakRssProbe, probe))
      assert.deepStrictEqual(calls, { reset: 3, readMb: 3 }, "a full run uses the same probe once per stage")
      assert.isTrue(full.report.results.every((r) => r.peakRssMb !== undefined && r.rssBeforeMb !== undefined))
      assert.isDefined(full.report.environment)
    }))

  it.effect("give a trace that round-trips through the JSON Lines schema, prints without RSS and draws a timeline", () =>
    Effect.gen(function*() {
      const sink = MemorySink.make()
      yield* Runner.run(everything(), { sinks: [sink], lean: true })
      for (const event of sink.events) {
        const line = Schema.encodeSync(TraceLine)(event)
        assert.deepStrictEqual(Schema.decodeUnknownSync(TraceLine)(line), event)
      }
      const finished = sink.events.at(-1)! as Extract<TraceEvent, { type: "pipeline-finished" }>
      const report: PipelineReport = finished.report
      const line = ConsoleSink.formatResult(report.results[1]!)
      assert.match(line, /beta\s+succeeded\s+\d+ ms$/)
      assert.notInclude(line, "rss")
      const timeline = yield* Timeline.fromTrace(sink.events)
      assert.isUndefined(timeline.environment)
      assert.include(Timeline.toSvg(timeline), "no RSS samples in this trace")
    }))

  it.effect("still run every stage in its own span inside the pipeline's span", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* Runner.run(everything(), { lean: true }).pipe(Effect.provideService(Tracer.Tracer, tracer))
      const pipelineSpan = spans.find((x) => x.name === "pipeline lean")!
      const stageSpans = spans.filter((x) => x.name.startsWith("stage "))
      assert.deepStrictEqual(stageSpans.map((x) => x.name), ["stage alpha", "stage beta", "stage gamma"])
      for (const span of stageSpans) {
        assert.strictEqual(Option.getOrUndefined(span.parent)?.spanId, pipelineSpan.spanId)
        assert.strictEqual(span.status._tag, "Ended")
      }
      assert.deepStrictEqual(stageSpans.map((x) => x.attributes.get("stage.outcome")), ["warned", "succeeded", "skipped"])
    }))
})
