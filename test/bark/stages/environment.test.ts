import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import * as Pipeline from "../../../src/pipeline/Pipeline.ts"
import * as Runner from "../../../src/pipeline/Runner.ts"
import * as EnvironmentStage from "../../../src/bark/stages/environment.ts"

const machine = (totalMemoryMb: number) => ({
  node: "v24.0.0",
  platform: "linux 6.1",
  arch: "x64",
  cpuModel: "test cpu",
  cpuCount: 2,
  totalMemoryMb,
  freeMemoryMb: totalMemoryMb / 2
})

const runWith = (totalMemoryMb: number, model: string) =>
  Runner.run(
    Pipeline.make("env", "d").pipe(Pipeline.add(EnvironmentStage.make({ probe: Effect.succeed(machine(totalMemoryMb)) }))),
    { config: { BARK_MODEL: model } }
  )

describe("environment stage", () => {
  it.effect("records the runtime summary and the model as metadata", () =>
    Effect.gen(function*() {
      const ready = yield* runWith(24_000, "suno/bark-small")
      const result = ready.report.results[0]!
      assert.strictEqual(result.outcome, "succeeded")
      assert.strictEqual(result.metadata["model"], "suno/bark-small")
      assert.strictEqual(result.metadata["cpuCount"], 2)
      assert.strictEqual(Context.get(ready.context, EnvironmentStage.RuntimeEnvironment).summary.totalMemoryMb, 24_000)
    }))

  it.effect("warns when the machine has less memory than the model needs", () =>
    Effect.gen(function*() {
      const small = yield* runWith(1024, "suno/bark-small")
      assert.strictEqual(small.report.results[0]!.outcome, "warned")
      assert.include(small.report.results[0]!.warnings[0]!.message, "suno/bark-small needs about 2.1 GB of memory at its peak")
      assert.strictEqual(small.report.results[0]!.metadata["memoryBudgetSource"], "host")
      const large = yield* runWith(4096, "suno/bark")
      assert.strictEqual(large.report.results[0]!.outcome, "warned")
      assert.include(large.report.results[0]!.warnings[0]!.message, "scaled from bark-small's measurement")
      assert.include(large.report.results[0]!.warnings[0]!.remediation ?? "", "SUNO_OFFLOAD_CPU")
      const fits = yield* runWith(4096, "suno/bark-small")
      assert.strictEqual(fits.report.results[0]!.outcome, "succeeded")
    }))
})
