import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Context, Effect, Exit, Fiber, Option, Schedule, Tracer } from "effect"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"
import * as Stage from "../../src/pipeline/Stage.ts"
import { StageFatal } from "../../src/pipeline/StageFatal.ts"
import * as MemorySink from "../../src/pipeline/sinks/memory.ts"
import { Alpha, Beta, Gamma, makeStages, recordingTracer } from "./fixtures.ts"

const recipe = (s: ReturnType<typeof makeStages>) =>
  Pipeline.make("test", "a test recipe").pipe(Pipeline.add(s.alpha), Pipeline.add(s.beta), Pipeline.add(s.gamma))

const outcomes = (report: { results: ReadonlyArray<{ stage: string; outcome: string }> }) =>
  report.results.map((r) => `${r.stage}:${r.outcome}`)

describe("Runner", () => {
  it.effect("builds stages in order and returns their services", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const sink = MemorySink.make()
      const ready = yield* Runner.run(recipe(s), { sinks: [sink] })
      assert.deepStrictEqual(s.built, ["alpha", "beta", "gamma"])
      assert.strictEqual(Context.get(ready.context, Gamma).value, "beta=2")
      assert.deepStrictEqual(outcomes(ready.report), ["alpha:succeeded", "beta:succeeded", "gamma:succeeded"])
      assert.strictEqual(ready.report.outcome, "succeeded")
      assert.deepStrictEqual(ready.report.results[1]!.metadata, { doubled: 2 })
      assert.deepStrictEqual(sink.events.map((e) => e.type), [
        "pipeline-started",
        "stage-started",
        "stage-finished",
        "stage-started",
        "stage-finished",
        "stage-started",
        "stage-finished",
        "pipeline-finished"
      ])
    }))

  it.effect("a fatal failure stops the pipeline and later stages are not-run", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const failed = yield* Effect.flip(
        Runner.run(recipe(s).pipe(Pipeline.replace("beta", s.failingBeta)))
      )
      assert.strictEqual(failed.stage, "beta")
      assert.strictEqual(failed.remediation, "fix beta")
      assert.deepStrictEqual(s.built, ["alpha", "failing-beta"])
      assert.deepStrictEqual(outcomes(failed.report), ["alpha:succeeded", "beta:failed", "gamma:not-run"])
      assert.deepStrictEqual(failed.report.results[1]!.error, {
        tag: "StageFatal",
        message: "beta broke",
        remediation: "fix beta"
      })
      assert.strictEqual(failed.report.outcome, "failed")
    }))

  it.effect("a warning gives the outcome warned and the stage still provides its value", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const ready = yield* Runner.run(recipe(s).pipe(Pipeline.replace(Beta, s.warningBeta)))
      assert.deepStrictEqual(outcomes(ready.report), ["alpha:succeeded", "beta:warned", "gamma:succeeded"])
      assert.deepStrictEqual(ready.report.results[1]!.warnings, [
        { message: "beta is degraded", remediation: "install the fast path" }
      ])
      assert.strictEqual(Context.get(ready.context, Gamma).value, "beta=0")
      assert.strictEqual(ready.report.outcome, "warned")
    }))

  it.effect("a skip rule read from config provides the fallback value", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const ready = yield* Runner.run(recipe(s)).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: { TEST_SKIP_GAMMA: "true" } }))
      )
      const gamma = ready.report.results[2]!
      assert.strictEqual(gamma.outcome, "skipped")
      assert.strictEqual(gamma.skipReason, "TEST_SKIP_GAMMA is set")
      assert.strictEqual(Context.get(ready.context, Gamma).value, "skipped")
      assert.deepStrictEqual(s.built, ["alpha", "beta"])
    }))

  it.effect("config overrides: the run's values win over the pipeline's, which win over the environment", () =>
    Effect.gen(function*() {
      const env = ConfigProvider.fromEnv({ env: { TEST_SKIP_GAMMA: "false" } })
      const byPipeline = yield* Runner.run(recipe(makeStages()).pipe(Pipeline.withConfig({ TEST_SKIP_GAMMA: "true" }))).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, env)
      )
      assert.strictEqual(byPipeline.report.results[2]!.outcome, "skipped")
      const byRun = yield* Runner.run(recipe(makeStages()).pipe(Pipeline.withConfig({ TEST_SKIP_GAMMA: "true" })), {
        config: { TEST_SKIP_GAMMA: "false" }
      }).pipe(Effect.provideService(ConfigProvider.ConfigProvider, env))
      assert.strictEqual(byRun.report.results[2]!.outcome, "succeeded")
    }))

  it.effect("an invalid config value fails the stage with ConfigError and a remediation", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(Runner.run(recipe(makeStages()), { config: { TEST_SKIP_GAMMA: "perhaps" } }))
      assert.strictEqual(failed.stage, "gamma")
      assert.strictEqual(failed.errorTag, "ConfigError")
      assert.include(failed.message, "TEST_SKIP_GAMMA")
      assert.include(failed.remediation, "--set")
    }))

  it.live("a stage that exceeds its timeout fails with a remediation", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const slow = Stage.make({
        name: "beta",
        purpose: "hangs",
        provides: Beta,
        build: Effect.sleep("10 seconds").pipe(Effect.as({ value: 2 })),
        timeout: "30 millis"
      })
      const failed = yield* Effect.flip(Runner.run(recipe(s).pipe(Pipeline.replace("beta", slow))))
      const beta = failed.report.results[1]!
      assert.strictEqual(beta.outcome, "failed")
      assert.strictEqual(beta.error?.tag, "Timeout")
      assert.include(beta.error?.message ?? "", "did not finish within")
      assert.isAbove(beta.error?.remediation.length ?? 0, 10)
      assert.isBelow(beta.durationMs, 5000)
    }))

  it.live("retries are recorded: attempts and one warning per failed attempt", () =>
    Effect.gen(function*() {
      let calls = 0
      const flaky = Stage.make({
        name: "alpha",
        purpose: "fails twice",
        provides: Alpha,
        build: Effect.suspend(() =>
          ++calls < 3
            ? Effect.fail(new StageFatal({ message: `flake ${calls}`, remediation: "wait" }))
            : Effect.succeed({ value: 1 })
        ),
        retry: Schedule.recurs(5)
      })
      const ready = yield* Runner.run(Pipeline.make("r", "retry").pipe(Pipeline.add(flaky)))
      const alpha = ready.report.results[0]!
      assert.strictEqual(alpha.attempts, 3)
      assert.strictEqual(alpha.outcome, "warned")
      assert.deepStrictEqual(alpha.warnings.map((w) => w.message), ["attempt 1 failed: flake 1", "attempt 2 failed: flake 2"])
    }))

  it.effect("a defect in a stage is recorded as a failure, not a crash", () =>
    Effect.gen(function*() {
      const broken = Stage.make({
        name: "alpha",
        purpose: "throws",
        provides: Alpha,
        build: Effect.sync(() => {
          throw new Error("boom")
        })
      })
      const failed = yield* Effect.flip(Runner.run(Pipeline.make("d", "defect").pipe(Pipeline.add(broken))))
      assert.strictEqual(failed.errorTag, "Defect")
      assert.include(failed.message, "boom")
    }))

  it.effect("a stage placed before the stage it needs is rejected before anything runs", () =>
    Effect.gen(function*() {
      const s = makeStages()
      const misordered = Pipeline.make("m", "misordered").pipe(Pipeline.add(s.beta), Pipeline.add(s.alpha))
      const failed = yield* Effect.flip(Runner.run(misordered))
      assert.strictEqual(failed.errorTag, "PipelineOrder")
      assert.include(failed.message, `stage "beta" needs test/Alpha, which stage "alpha" provides only later`)
      assert.deepStrictEqual(s.built, [])
      assert.deepStrictEqual(outcomes(failed.report), ["beta:not-run", "alpha:not-run"])
      assert.strictEqual(failed.report.outcome, "failed")
    }))

  it.live("interrupting a run interrupts the running stage and its finalizers run", () =>
    Effect.gen(function*() {
      let released = false
      const stuck = Stage.make({
        name: "alpha",
        purpose: "never ends",
        provides: Alpha,
        build: Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => { released = true })))
      })
      const fiber = yield* Effect.forkChild(Effect.scoped(Runner.run(Pipeline.make("i", "interrupt").pipe(Pipeline.add(stuck)))))
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      assert.isTrue(released)
    }))

  it.effect("every stage runs in its own span inside the pipeline's span, for OpenTelemetry export", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const s = makeStages()
      yield* Runner.run(recipe(s)).pipe(Effect.provideService(Tracer.Tracer, tracer))
      const pipelineSpan = spans.find((x) => x.name === "pipeline test")!
      const stageSpans = spans.filter((x) => x.name.startsWith("stage "))
      assert.deepStrictEqual(stageSpans.map((x) => x.name), ["stage alpha", "stage beta", "stage gamma"])
      for (const span of stageSpans) {
        assert.strictEqual(Option.getOrUndefined(span.parent)?.spanId, pipelineSpan.spanId)
        assert.strictEqual(span.attributes.get("stage.outcome"), "succeeded")
        assert.strictEqual(span.status._tag, "Ended")
      }
    }))

  it.effect("spans a stage's build opens are children of that stage's span", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const traced = Stage.make({ name: "alpha", purpose: "opens a span", provides: Alpha, build: Effect.succeed({ value: 1 }).pipe(Effect.withSpan("load weights")) })
      yield* Runner.run(Pipeline.make("s", "spans").pipe(Pipeline.add(traced))).pipe(Effect.provideService(Tracer.Tracer, tracer))
      const stageSpan = spans.find((x) => x.name === "stage alpha")!
      const inner = spans.find((x) => x.name === "load weights")!
      assert.strictEqual(Option.getOrUndefined(inner.parent)?.spanId, stageSpan.spanId)
    }))
})
