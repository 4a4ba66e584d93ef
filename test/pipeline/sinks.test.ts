import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"
import * as ConsoleSink from "../../src/pipeline/sinks/console.ts"
import * as JsonlSink from "../../src/pipeline/sinks/jsonl.ts"
import { PipelineReport } from "../../src/pipeline/StageResult.ts"
import { makeStages } from "./fixtures.ts"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "bark-sinks-"))

describe("trace sinks", () => {
  it.effect("the JSON Lines trace parses back through the schema, one event per line, renamed into place at the end", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = path.join(dir, "trace.jsonl")
      const s = makeStages()
      const p = Pipeline.make("t", "d").pipe(Pipeline.add(s.alpha), Pipeline.add(s.warningBeta))
      yield* Effect.scoped(Effect.gen(function*() {
        const sink = yield* JsonlSink.make(file)
        yield* Runner.run(p, { sinks: [sink] })
        assert.isFalse(fs.existsSync(file), "not under its final name while running")
      }))
      const events = yield* JsonlSink.read(file)
      assert.deepStrictEqual(events.map((e) => e.type), [
        "pipeline-started",
        "stage-started",
        "stage-finished",
        "stage-started",
        "warning",
        "stage-finished",
        "pipeline-finished"
      ])
      const last = events.at(-1)!
      assert.strictEqual(last.type, "pipeline-finished")
      if (last.type === "pipeline-finished") {
        assert.strictEqual(last.report.outcome, "warned")
        Schema.decodeUnknownSync(PipelineReport)(JSON.parse(JSON.stringify(last.report)))
      }
      assert.deepStrictEqual(fs.readdirSync(dir), ["trace.jsonl"], "no temp file left behind")
      fs.rmSync(dir, { recursive: true })
    }))

  it.effect("a corrupt trace line is a typed error naming the line", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = path.join(dir, "bad.jsonl")
      fs.writeFileSync(file, `{"type":"stage-started","at":"x","stage":"a","purpose":"p"}\n{"type":"nonsense"}\n`)
      const error = yield* Effect.flip(JsonlSink.read(file))
      assert.strictEqual(error._tag, "TraceFileError")
      assert.include(error.message, "line 2")
      fs.rmSync(dir, { recursive: true })
    }))

  it.effect("the console view prints one line per stage with outcome, duration and RSS, and the fix for failures", () =>
    Effect.gen(function*() {
      let text = ""
      const sink = ConsoleSink.make({ write: (t) => void (text += t), isTTY: false })
      const s = makeStages()
      const p = Pipeline.make("c", "d").pipe(Pipeline.add(s.alpha), Pipeline.add(s.failingBeta), Pipeline.add(s.gamma))
      yield* Effect.flip(Runner.run(p, { sinks: [sink] }))
      const lines = text.trimEnd().split("\n")
      assert.match(lines[0]!, /^c: 3 stages$/)
      assert.match(lines[1]!, /✓ alpha\s+succeeded\s+\d+ ms\s+rss \d+ → \d+ MB/)
      assert.match(lines[2]!, /✗ beta\s+failed/)
      assert.include(text, "error [StageFatal]: beta broke")
      assert.include(text, "fix: fix beta")
      assert.match(text, /· gamma\s+not-run/)
      assert.match(lines.at(-1)!, /^c failed in \d/)
    }))

  it("progress lines show a bar, amounts, rate and ETA", () => {
    const line = ConsoleSink.formatProgress({
      type: "progress",
      at: "",
      stage: "fetch-weights",
      unit: "bytes",
      done: 50 * 1024 * 1024,
      total: 100 * 1024 * 1024,
      label: "pytorch_model.bin",
      ratePerSecond: 10 * 1024 * 1024,
      etaSeconds: 5
    })
    assert.strictEqual(
      line,
      "  … fetch-weights pytorch_model.bin  [##########..........]  50.0 MB / 100.0 MB  10.0 MB/s  eta 5 s"
    )
  })
})
