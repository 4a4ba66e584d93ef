import { assert, describe, it } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Config, Context, Effect } from "effect"
import { Command } from "effect/cli"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Trace from "../../src/cli/commands/trace.ts"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"
import * as JsonlSink from "../../src/pipeline/sinks/jsonl.ts"
import * as Stage from "../../src/pipeline/Stage.ts"
import { StageFatal } from "../../src/pipeline/StageFatal.ts"
import * as StageReporter from "../../src/pipeline/StageReporter.ts"
import * as Timeline from "../../src/pipeline/timeline.ts"
import type { TraceEvent } from "../../src/pipeline/TraceEvent.ts"

class Loaded extends Context.Service<Loaded, { readonly bytes: Uint8Array }>()("test/Loaded") {}
class Warm extends Context.Service<Warm, boolean>()("test/Warm") {}
class Extra extends Context.Service<Extra, string>()("test/Extra") {}
class Broken extends Context.Service<Broken, number>()("test/Broken") {}
class After extends Context.Service<After, number>()("test/After") {}

const awkwardName = `load <config> & "weights"`

/** One stage per outcome: succeeded (allocates, so RSS moves), warned twice, skipped, failed, not run. */
const recipe = Pipeline.make("timeline-test", "every outcome once").pipe(
  Pipeline.add(Stage.make({
    name: awkwardName,
    purpose: "allocates 32 MB",
    provides: Loaded,
    build: Effect.sync(() => ({ bytes: new Uint8Array(32 * 1024 * 1024).fill(1) }))
  })),
  Pipeline.add(Stage.make({
    name: "warm",
    purpose: "warns twice",
    provides: Warm,
    needs: [Loaded],
    build: Effect.gen(function*() {
      yield* StageReporter.warn("first <slow> path", "install the fast path")
      yield* Effect.sleep("15 millis")
      yield* StageReporter.warn("second warning")
      return true
    })
  })),
  Pipeline.add(Stage.make({
    name: "extra",
    purpose: "optional",
    provides: Extra,
    build: Effect.succeed("built"),
    skip: {
      when: Config.succeed("not wanted here"),
      value: Effect.succeed("skipped")
    }
  })),
  Pipeline.add(Stage.make({
    name: "explode",
    purpose: "fails",
    provides: Broken,
    build: Effect.fail(new StageFatal({ message: "the device is on fire", remediation: "use BARK_DEVICE=cpu" }))
  })),
  Pipeline.add(Stage.make({ name: "after", purpose: "never runs", provides: After, build: Effect.succeed(1) }))
)

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "bark-timeline-"))

/** Runs the recipe for real with a JSON Lines trace; returns the trace's path. */
const traceOfRun = (dir: string) =>
  Effect.gen(function*() {
    const file = path.join(dir, "run.jsonl")
    yield* Effect.scoped(Effect.gen(function*() {
      const sink = yield* JsonlSink.make(file)
      yield* Effect.flip(Runner.run(recipe, { sinks: [sink] }))
    }))
    return file
  })

const unescape = (s: string) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, `"`).replace(/&apos;/g, "'").replace(/&amp;/g, "&")

interface Element {
  readonly name: string
  readonly attrs: Readonly<Record<string, string>>
}

/**
 * A strict-enough XML check: every tag is balanced, attribute values are
 * quoted, and no raw `<` or stray `&` appears in text or attributes.
 * Returns the elements in document order.
 */
const parseXml = (xml: string): ReadonlyArray<Element> => {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, "")
  const elements: Array<Element> = []
  const open: Array<string> = []
  const entity = /&(?!(lt|gt|amp|quot|apos);)/
  let rest = body
  while (rest.length > 0) {
    const lt = rest.indexOf("<")
    const content = lt < 0 ? rest : rest.slice(0, lt)
    assert.notMatch(content, entity, `unescaped & in text: ${content}`)
    assert.notInclude(content, ">", `raw > in text: ${content}`)
    if (lt < 0) break
    const gt = rest.indexOf(">", lt)
    assert.isAbove(gt, lt, "unterminated tag")
    const tag = rest.slice(lt + 1, gt)
    rest = rest.slice(gt + 1)
    if (tag.startsWith("/")) {
      assert.strictEqual(open.pop(), tag.slice(1), `mismatched </${tag.slice(1)}>`)
      continue
    }
    const m = /^([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)$/.exec(tag)
    assert.isNotNull(m, `malformed tag <${tag}>`)
    const [, name, attrText, selfClosing] = m!
    const attrs: Record<string, string> = {}
    for (const [, key, value] of attrText!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      assert.notMatch(value!, entity, `unescaped & in ${key}`)
      assert.notProperty(attrs, key!, `duplicate attribute ${key}`)
      attrs[key!] = unescape(value!)
    }
    elements.push({ name: name!, attrs })
    if (selfClosing !== "/") open.push(name!)
  }
  assert.deepStrictEqual(open, [], "unclosed elements")
  return elements
}

describe("timeline", () => {
  it.live("draws a real run's trace: one bar per stage in its outcome's colour, warnings, RSS, escaped names", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = yield* traceOfRun(dir)
      const events = yield* JsonlSink.read(file)
      const finished = events.find((e) => e.type === "pipeline-finished")
      assert.isDefined(finished)
      const results = finished!.type === "pipeline-finished" ? finished!.report.results : []
      assert.deepStrictEqual(results.map((r) => r.outcome), ["succeeded", "warned", "skipped", "failed", "not-run"])

      const svg = yield* Timeline.render(events)
      const elements = parseXml(svg)
      assert.strictEqual(elements[0]!.name, "svg")

      const bars = elements.filter((e) => e.name === "rect" && e.attrs["class"] === "bar")
      assert.deepStrictEqual(bars.map((b) => b.attrs["data-stage"]), results.map((r) => r.stage))
      for (const [i, bar] of bars.entries()) {
        const outcome = results[i]!.outcome
        assert.strictEqual(bar.attrs["data-state"], outcome)
        assert.strictEqual(bar.attrs["fill"], Timeline.stateColors[outcome])
      }
      // Bars that ran follow each other in time.
      const xs = bars.slice(0, 4).map((b) => Number(b.attrs["x"]))
      assert.deepStrictEqual([...xs].sort((a, b) => a - b), xs)
      // The slow stage is drawn wider than the instant skip.
      assert.isAbove(Number(bars[1]!.attrs["width"]), Number(bars[2]!.attrs["width"]))

      assert.notInclude(svg, "<config>")
      assert.include(svg, "load &lt;config&gt; &amp; &quot;weights&quot;")
      assert.include(svg, "first &lt;slow&gt; path")

      // Both warnings are marked, over the warned bar.
      const warnBar = bars[1]!
      const left = Number(warnBar.attrs["x"])
      const right = left + Number(warnBar.attrs["width"])
      const marks = elements.filter((e) => e.name === "path" && e.attrs["class"] === "warning")
      assert.strictEqual(marks.length, 2)
      for (const m of marks) {
        const x = Number(/^M([\d.]+)/.exec(m.attrs["d"]!)![1])
        assert.isTrue(x >= left - 0.5 && x <= right + 0.5, `warning mark at ${x} outside ${left}..${right}`)
      }

      // RSS: a start and an end sample for each of the four stages that ran; it rises with the allocation.
      const rss = elements.find((e) => e.name === "polyline" && e.attrs["class"] === "rss")
      const points = rss!.attrs["points"]!.split(" ").map((p) => p.split(",").map(Number))
      assert.strictEqual(points.length, 8)
      assert.isBelow(points[1]![1]!, points[0]![1]!, "higher RSS is drawn higher up")

      // The failure and its fix are spelled out.
      assert.include(svg, "explode [StageFatal]: the device is on fire")
      assert.include(svg, "fix: use BARK_DEVICE=cpu")
      fs.rmSync(dir, { recursive: true })
    }))

  it.live("a trace cut short (the run was interrupted) shows the running stage as interrupted", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const events = yield* JsonlSink.read(yield* traceOfRun(dir))
      // Keep everything up to the warned stage's start: it was running when the process stopped.
      const cut = events.findIndex((e) => e.type === "stage-started" && e.stage === "warm")
      const timeline = yield* Timeline.fromTrace(events.slice(0, cut + 2))
      assert.strictEqual(timeline.outcome, "interrupted")
      assert.deepStrictEqual(timeline.stages.map((s) => s.state), ["succeeded", "interrupted", "not-run", "not-run", "not-run"])
      const svg = Timeline.toSvg(timeline)
      parseXml(svg)
      assert.include(svg, `data-state="interrupted" x=`)
      assert.include(svg, `fill="${Timeline.stateColors.interrupted}"`)
      fs.rmSync(dir, { recursive: true })
    }))

  it.effect("each stage's peak RSS is marked on the RSS panel and in its hover text; the highest is called out", () =>
    Effect.gen(function*() {
      const at = (ms: number) => new Date(Date.parse("2024-01-01T00:00:00.000Z") + ms).toISOString()
      const result = (stage: string, start: number, durationMs: number, rss: [number, number], peak?: number) => ({
        stage,
        outcome: "succeeded" as const,
        startedAt: at(start),
        durationMs,
        rssBeforeMb: rss[0],
        rssAfterMb: rss[1],
        ...(peak === undefined ? {} : { peakRssMb: peak }),
        attempts: 1,
        metadata: {},
        warnings: []
      })
      const events: ReadonlyArray<TraceEvent> = [
        { type: "pipeline-started", at: at(0), pipeline: "p", stages: ["fetch", "load", "warm"] },
        { type: "stage-finished", at: at(100), result: result("fetch", 0, 100, [40, 45], 60) },
        { type: "stage-finished", at: at(600), result: result("load", 100, 500, [45, 300], 812.5) },
        { type: "stage-finished", at: at(800), result: result("warm", 600, 200, [300, 310], 320) }
      ]
      const timeline = yield* Timeline.fromTrace(events)
      assert.deepStrictEqual(timeline.stages.map((s) => s.peakRssMb), [60, 812.5, 320])
      assert.strictEqual(Timeline.peakStage(timeline)?.name, "load")
      const svg = Timeline.toSvg(timeline)
      const elements = parseXml(svg)
      const peaks = elements.filter((e) => e.name === "g" && e.attrs["class"] === "rss-peak")
      assert.deepStrictEqual(peaks.map((p) => [p.attrs["data-stage"], p.attrs["data-peak-mb"], p.attrs["data-highest"]]), [
        ["fetch", "60", undefined],
        ["load", "812.5", "true"],
        ["warm", "320", undefined]
      ])
      assert.include(svg, "rss 45 → 300 MB, peak 812.5 MB")
      assert.include(svg, "the run&apos;s highest RSS: 812.5 MB")
      assert.include(svg, "peak 812.5 MB during load")
      // The peak is drawn above (higher up than) every sample of the curve.
      const lines = elements.filter((e) => e.name === "line" && e.attrs["stroke-dasharray"] === "4 2")
      const peakY = Number(lines[1]!.attrs["y1"])
      const rss = elements.find((e) => e.name === "polyline" && e.attrs["class"] === "rss")!
      for (const point of rss.attrs["points"]!.split(" ")) assert.isAbove(Number(point.split(",")[1]), peakY)

      // A trace written before peaks were recorded draws as before: no peak marks.
      const old = events.map((e) => {
        if (e.type !== "stage-finished") return e
        const { peakRssMb: _, ...rest } = e.result
        return { ...e, result: rest }
      })
      const oldSvg = yield* Timeline.render(old)
      assert.notInclude(oldSvg, "rss-peak")
      assert.notInclude(oldSvg, "peak")
    }))

  it.effect("a trace with no stages is a TimelineError that says what to do", () =>
    Effect.gen(function*() {
      const none: ReadonlyArray<TraceEvent> = []
      const error = yield* Effect.flip(Timeline.fromTrace(none))
      assert.strictEqual(error._tag, "TimelineError")
      assert.include(error.remediation, "--trace")
    }))
})

describe("bark-pipeline trace", () => {
  const cli = Command.make("bark-pipeline").pipe(Command.withSubcommands([Trace.command]))
  const runCli = (args: ReadonlyArray<string>) =>
    Command.runWith(cli, { version: "test" })(args).pipe(Effect.provide(NodeServices.layer))

  it.live("writes the SVG next to the trace by default, atomically, and to --out when given", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = yield* traceOfRun(dir)
      yield* runCli(["trace", file])
      const svg = fs.readFileSync(path.join(dir, "run.svg"), "utf8")
      assert.strictEqual(parseXml(svg).filter((e) => e.attrs["class"] === "bar").length, 5)
      const out = path.join(dir, "picture.svg")
      yield* runCli(["trace", file, "--out", out])
      assert.strictEqual(fs.readFileSync(out, "utf8"), svg)
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["picture.svg", "run.jsonl", "run.svg"], "no temporary file left")
      fs.rmSync(dir, { recursive: true })
    }))

  it.live("an invalid or missing trace is a usage error (exit 2) with a remediation; an unwritable output exits 1", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const bad = path.join(dir, "bad.jsonl")
      fs.writeFileSync(bad, `{"type":"pipeline-started","at":"2024-01-01T00:00:00.000Z","pipeline":"p","stages":["a"]}\nnot json\n`)
      const invalid = yield* Effect.flip(Trace.renderFile(bad, path.join(dir, "bad.svg"))).pipe(Effect.provide(NodeServices.layer))
      assert.strictEqual(invalid._tag, "TraceFileError")
      assert.include(invalid.message, "line 2")
      const exit = yield* Effect.flip(runCli(["trace", bad]))
      assert.deepInclude(exit, { _tag: "CliExit", code: 2 })
      assert.include((exit as { remediation: string }).remediation, "bark-pipeline run --trace")
      assert.isFalse(fs.existsSync(path.join(dir, "bad.svg")))

      const missing = yield* Effect.flip(runCli(["trace", path.join(dir, "nope.jsonl")]))
      assert.deepInclude(missing, { _tag: "CliExit", code: 2 })

      const file = yield* traceOfRun(dir)
      const unwritable = yield* Effect.flip(runCli(["trace", file, "--out", path.join(dir, "no-such-dir", "x.svg")]))
      assert.deepInclude(unwritable, { _tag: "CliExit", code: 1 })
      assert.include((unwritable as { remediation: string }).remediation, "--out")
      fs.rmSync(dir, { recursive: true })
    }))

  it("the default output replaces .jsonl with .svg", () => {
    assert.strictEqual(Trace.defaultOutput("runs/a.jsonl"), "runs/a.svg")
    assert.strictEqual(Trace.defaultOutput("trace.log"), "trace.log.svg")
  })
})

describe("a trace of several runs", () => {
  class Inner extends Context.Service<Inner, number>()("test/Inner") {}
  class Outer extends Context.Service<Outer, number>()("test/Outer") {}
  const inner = Pipeline.make("inner", "runs inside a stage").pipe(
    Pipeline.add(Stage.make({ name: "step", purpose: "sleeps", provides: Inner, build: Effect.as(Effect.sleep("10 millis"), 1) }))
  )

  it.live("draws the runs a stage started among the outer run's rows, named after their run, in the order they started", () =>
    Effect.gen(function*() {
      const events: Array<TraceEvent> = []
      const sink = (run?: string) => ({
        emit: (e: TraceEvent) => Effect.sync(() => void events.push(run === undefined ? e : { ...e, run }))
      })
      // The outer stage runs the inner pipeline three times: twice at once (labelled runs), then once unlabelled (nested).
      const outer = Pipeline.make("outer", "asks for inner runs").pipe(
        Pipeline.add(Stage.make({
          name: "fan-out",
          purpose: "runs the inner pipeline",
          provides: Outer,
          build: Effect.gen(function*() {
            yield* Effect.all([
              Effect.scoped(Runner.run(inner, { sinks: [sink("inner 1")], lean: true })),
              Effect.scoped(Runner.run(inner, { sinks: [sink("inner 2")], lean: true }))
            ], { concurrency: "unbounded" })
            yield* Effect.scoped(Runner.run(inner, { sinks: [sink()], lean: true }))
            return 3
          })
        }))
      )
      yield* Effect.scoped(Runner.run(outer, { sinks: [sink()] }))
      const timeline = yield* Timeline.fromTrace(events)
      assert.strictEqual(timeline.pipeline, "outer")
      assert.deepStrictEqual(timeline.stages.map((s) => s.name), ["fan-out", "inner 1 · step", "inner 2 · step", "inner · step"])
      const [fanOut, ...steps] = timeline.stages
      for (const step of steps) {
        assert.isAtLeast(step.startMs!, fanOut!.startMs!)
        assert.isAtMost(step.startMs! + step.durationMs, fanOut!.startMs! + fanOut!.durationMs + 1)
      }
      assert.include(Timeline.toSvg(timeline), "inner 2 · step")
      assert.strictEqual((yield* Timeline.fromTrace(events, { title: "startup" })).pipeline, "startup")
    }).pipe(Effect.provide(NodeServices.layer)))
})

describe("a trace of sibling runs", () => {
  type Result = Extract<TraceEvent, { type: "stage-finished" }>["result"]
  const at = (ms: number) => new Date(Date.parse("2024-01-01T00:00:00.000Z") + ms).toISOString()
  /** A stage that ran 10 ms from `start`. */
  const ran = (stage: string, start: number, fields: Partial<Result> = {}): Result => ({
    stage,
    outcome: "succeeded",
    startedAt: at(start),
    durationMs: 10,
    attempts: 1,
    metadata: {},
    warnings: [],
    ...fields
  })

  /** The events of run `run`, its stages as `results` say; without its pipeline-finished when `open`. */
  const runOf = (run: string, pipeline: string, results: ReadonlyArray<Result>, open = false): ReadonlyArray<TraceEvent> => {
    const start = results[0]!.startedAt!
    const end = (r: Result) => new Date(Date.parse(r.startedAt!) + r.durationMs).toISOString()
    return [
      { type: "pipeline-started", at: start, run, pipeline, stages: results.map((r) => r.stage) },
      ...results.flatMap((r): ReadonlyArray<TraceEvent> => [
        { type: "stage-started", at: r.startedAt!, run, stage: r.stage, purpose: r.stage },
        { type: "stage-finished", at: end(r), run, result: r }
      ]),
      ...(open ? [] : [{
        type: "pipeline-finished" as const,
        at: end(results.at(-1)!),
        run,
        report: {
          pipeline,
          outcome: results.some((r) => r.outcome === "failed") ? "failed" as const : "succeeded" as const,
          startedAt: start,
          durationMs: Date.parse(end(results.at(-1)!)) - Date.parse(start),
          results
        }
      }])
    ]
  }
  const prepare = runOf("synthesis/prepare", "synthesis/prepare", [ran("split", 0)])
  /** Chunk `n` (from 1): semantic from `start`, then `post`. */
  const chunk = (n: number, start: number, post: Result = ran("post", start + 10), open = false) =>
    runOf(`synthesis/chunk ${n}`, "synthesis/chunk", [ran("semantic", start), post], open)

  it.effect("draws every run's stages in the order they started, named after their run without the shared prefix", () =>
    Effect.gen(function*() {
      // chunk 2 starts before chunk 1 finishes: the runs interleave
      const events = [...prepare, ...chunk(1, 10).slice(0, 3), ...chunk(2, 15), ...chunk(1, 10).slice(3)]
      const timeline = yield* Timeline.fromTrace(events)
      assert.strictEqual(timeline.pipeline, "synthesis/prepare")
      assert.strictEqual(timeline.outcome, "succeeded")
      assert.strictEqual(timeline.startedAt, at(0))
      assert.strictEqual(timeline.durationMs, 35)
      assert.deepStrictEqual(timeline.stages.map((s) => [s.name, s.startMs]), [
        ["prepare · split", 0],
        ["chunk 1 · semantic", 10],
        ["chunk 2 · semantic", 15],
        ["chunk 1 · post", 20],
        ["chunk 2 · post", 25]
      ])
      const titled = yield* Timeline.fromTrace(events, { title: "synthesis /synthesize" })
      assert.strictEqual(titled.pipeline, "synthesis /synthesize")
      assert.include(yield* Timeline.render(events, { title: "synthesis /synthesize" }), "synthesis /synthesize — succeeded")
    }))

  it.effect("the outcome is the worst run's: a failed chunk fails the picture, a chunk still open interrupts it", () =>
    Effect.gen(function*() {
      const broken = ran("post", 30, { outcome: "failed", error: { tag: "Boom", message: "the chunk broke", remediation: "fix it" } })
      const failed = yield* Timeline.fromTrace([...prepare, ...chunk(1, 10), ...chunk(2, 20, broken)])
      assert.strictEqual(failed.outcome, "failed")
      assert.strictEqual(failed.stages.find((s) => s.name === "chunk 2 · post")?.state, "failed")

      const unfinished = yield* Timeline.fromTrace([...prepare, ...chunk(1, 10), ...chunk(2, 20, undefined, true)])
      assert.strictEqual(unfinished.outcome, "interrupted")
    }))

  it.effect("a trace of one labelled run (a request that stopped in prepare) names its rows after the run", () =>
    Effect.gen(function*() {
      const timeline = yield* Timeline.fromTrace(prepare, { title: "synthesis /synthesize" })
      assert.strictEqual(timeline.pipeline, "synthesis /synthesize")
      assert.deepStrictEqual(timeline.stages.map((s) => s.name), ["prepare · split"])
    }))
})
