import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect } from "effect"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"
import * as Stage from "../../src/pipeline/Stage.ts"
import { Alpha, Beta, Gamma, makeStages } from "./fixtures.ts"

const names = (p: Pipeline.Any) => Pipeline.stages(p).map((s) => s.name)

describe("Pipeline combinators", () => {
  it("insertBefore / insertAfter / remove / replace keep an ordered, inspectable list", () => {
    const s = makeStages()
    const check = Stage.make({ name: "check", purpose: "checks", provides: Context.Service<number>("test/Check"), build: Effect.succeed(1) })
    const p = Pipeline.make("p", "d").pipe(Pipeline.add(s.alpha), Pipeline.add(s.beta), Pipeline.add(s.gamma))
    assert.deepStrictEqual(names(p.pipe(Pipeline.insertBefore("beta", check))), ["alpha", "check", "beta", "gamma"])
    assert.deepStrictEqual(names(p.pipe(Pipeline.insertAfter(Gamma, check))), ["alpha", "beta", "gamma", "check"])
    assert.deepStrictEqual(names(p.pipe(Pipeline.remove(Gamma))), ["alpha", "beta"])
    const replaced = p.pipe(Pipeline.replace(Beta, s.warningBeta))
    assert.strictEqual(Pipeline.stages(replaced)[1]!.purpose, "warns and degrades")
    assert.deepStrictEqual(names(p), ["alpha", "beta", "gamma"], "the original is unchanged")
  })

  it("naming a stage that is not there, or adding a duplicate, throws a descriptive error", () => {
    const s = makeStages()
    const p = Pipeline.make("p", "d").pipe(Pipeline.add(s.alpha))
    assert.throws(() => p.pipe(Pipeline.replace("nope", s.alpha)), /stage "nope" is not in pipeline "p" \(stages: alpha\)/)
    assert.throws(() => p.pipe(Pipeline.add(s.alpha)), /already has a stage named "alpha"/)
    assert.throws(() => p.pipe(Pipeline.skip("alpha")), /declares no value to provide when skipped/)
  })

  it.effect("skip forces a stage's fallback and records the reason", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const p = Pipeline.make("p", "d").pipe(
        Pipeline.add(s.alpha),
        Pipeline.add(s.beta),
        Pipeline.add(s.gamma),
        Pipeline.skip("gamma", "not needed in tests")
      )
      const ready = yield* Runner.run(p)
      assert.strictEqual(ready.report.results[2]!.outcome, "skipped")
      assert.strictEqual(ready.report.results[2]!.skipReason, "not needed in tests")
      assert.deepStrictEqual(s.built, ["alpha", "beta"])
    }))

  it.effect("plan lists stages, what they provide and need, and skip decisions, without building anything", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const p = Pipeline.make("p", "d").pipe(Pipeline.add(s.alpha), Pipeline.add(s.beta), Pipeline.add(s.gamma))
      const plan = yield* Pipeline.plan(p).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: { TEST_SKIP_GAMMA: "1" } }))
      )
      assert.deepStrictEqual(s.built, [])
      assert.deepStrictEqual(plan.entries.map((e) => [e.stage, e.provides, e.needs, e.skipReason]), [
        ["alpha", "test/Alpha", [], undefined],
        ["beta", "test/Beta", ["test/Alpha"], undefined],
        ["gamma", "test/Gamma", ["test/Beta"], "TEST_SKIP_GAMMA is set"]
      ])
      assert.deepStrictEqual(plan.problems, [])
      const bad = yield* Pipeline.plan(Pipeline.make("q", "d").pipe(Pipeline.add(s.gamma)) as Pipeline.Any)
      assert.deepStrictEqual(bad.problems, [`stage "gamma" needs test/Beta, which no stage of pipeline "q" provides`])
    }))

  it.effect("a recipe swaps a layer's value for a test by replacing the stage that provides it", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const fakeAlpha = Stage.make({ name: "alpha", purpose: "fake", provides: Alpha, build: Effect.succeed({ value: 21 }) })
      const p = Pipeline.make("p", "d").pipe(
        Pipeline.add(s.alpha),
        Pipeline.add(s.beta),
        Pipeline.replace(Alpha, fakeAlpha)
      )
      const ready = yield* Runner.run(p)
      assert.strictEqual(Context.get(ready.context, Beta).value, 42)
    }))
})
