/**
 * Type-level checks, enforced by `tsc --noEmit` (part of `npm test`): a recipe
 * that lacks a stage another stage needs cannot be run without providing that
 * service, so it does not compile where the runner expects a complete recipe;
 * and a stage's type says what it fails with, as a layer's does.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import type { Config, Scope } from "effect"
import { Data, Effect, Layer, Schedule, Schema } from "effect"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"
import * as Stage from "../../src/pipeline/Stage.ts"
import type { StageFatal } from "../../src/pipeline/StageFatal.ts"
import * as StageReporter from "../../src/pipeline/StageReporter.ts"
import { Alpha, Beta, Gamma, makeStages } from "./fixtures.ts"

type Complete = Effect.Effect<Runner.Ready<any>, Runner.PipelineFailed, Scope.Scope>

class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String, remediation: Schema.String }) {}
class Busy extends Data.TaggedError("Busy")<{ readonly message: string }> {}

const lookup = (n: number) => (n < 0 ? Effect.fail(new NotFound({ message: "no such entry", remediation: "add it" })) : Effect.succeed(n))
const reserve = (n: number) => (n > 9 ? Effect.fail(new Busy({ message: "all slots taken" })) : Effect.succeed(n))

describe("recipe types", () => {
  it("a complete recipe needs nothing but a Scope", () => {
    const s = makeStages()
    const complete: Complete = Runner.run(Pipeline.make("ok", "d").pipe(Pipeline.add(s.alpha), Pipeline.add(s.beta)))
    assert.isDefined(complete)
  })

  it("a recipe missing a needed stage does not type-check", () => {
    const s = makeStages()
    // @ts-expect-error beta needs Alpha, which no stage provides
    const missing: Complete = Runner.run(Pipeline.make("bad", "d").pipe(Pipeline.add(s.beta)))
    // @ts-expect-error removing alpha leaves beta's need unmet
    const removed: Complete = Runner.run(Pipeline.make("bad", "d").pipe(Pipeline.add(s.alpha), Pipeline.add(s.beta), Pipeline.remove(Alpha)))
    assert.isDefined(missing)
    assert.isDefined(removed)
  })

  it("a recipe missing a needed stage does not type-check when the stages come from layers either", () => {
    const beta = Stage.fromLayer({
      name: "beta",
      purpose: "doubles alpha",
      provides: Beta,
      needs: [Alpha],
      layer: Layer.effect(Beta, Effect.map(Alpha, (a) => ({ value: a.value * 2 })))
    })
    const alpha = Stage.fromLayer({ name: "alpha", purpose: "provides 1", provides: Alpha, layer: Layer.succeed(Alpha, { value: 1 }) })
    const complete: Complete = Runner.run(Pipeline.make("ok", "d").pipe(Pipeline.add(alpha), Pipeline.add(beta)))
    // @ts-expect-error beta needs Alpha, which no stage provides
    const missing: Complete = Runner.run(Pipeline.make("bad", "d").pipe(Pipeline.add(beta)))
    assert.isDefined(complete)
    assert.isDefined(missing)
  })

  it("replace only accepts a stage providing a service the recipe already has", () => {
    const s = makeStages()
    const p = Pipeline.make("p", "d").pipe(Pipeline.add(s.alpha))
    // @ts-expect-error gamma provides Gamma, which p does not provide
    const wrong: Pipeline.Pipeline<unknown, unknown> = p.pipe(Pipeline.replace("alpha", s.gamma))
    assert.isDefined(wrong)
  })
})

describe("stage error types", () => {
  it("a stage's error type is the union of what its build can fail with", () => {
    const stage = Stage.make({
      name: "alpha",
      purpose: "looks up and reserves",
      provides: Alpha,
      build: Effect.gen(function*() {
        const n = yield* lookup(1)
        return { value: yield* reserve(n) }
      })
    })
    expectTypeOf<Stage.Error<typeof stage>>().toEqualTypeOf<NotFound | Busy>()
  })

  it("a stage that cannot fail is a stage failing with anything, as a layer is", () => {
    const s = makeStages()
    const any: Stage.Any = s.alpha
    const wider: Stage.Stage<Alpha, { readonly value: number }, Stage.StageFailure, never> = s.alpha
    assert.isDefined(any)
    assert.isDefined(wider)
  })

  it("a stage whose build can only fail with MyError has exactly that error type", () => {
    const stage = Stage.make({ name: "alpha", purpose: "looks up", provides: Alpha, build: Effect.map(lookup(1), (value) => ({ value })) })
    expectTypeOf<Stage.Error<typeof stage>>().toEqualTypeOf<NotFound>()
    expectTypeOf(stage).toEqualTypeOf<Stage.Stage<Alpha, { readonly value: number }, NotFound, never>>()
    const s = makeStages()
    expectTypeOf<Stage.Error<typeof s.alpha>>().toEqualTypeOf<never>()
    expectTypeOf<Stage.Error<typeof s.failingBeta>>().toEqualTypeOf<StageFatal>()
  })

  it("a skip rule's errors join the stage's: gamma's build cannot fail, its rule reads config", () => {
    const s = makeStages()
    expectTypeOf<Stage.Error<typeof s.gamma>>().toEqualTypeOf<Config.ConfigError>()
  })

  it("a build failing with something the runner cannot describe does not type-check", () => {
    const stage = Stage.make({
      name: "alpha",
      purpose: "fails with a bare string",
      provides: Alpha,
      // @ts-expect-error a string has no _tag or message: the runner could not record it
      build: Effect.fail("disk full")
    })
    assert.isDefined(stage)
  })

  it("a retry schedule is fed the stage's own errors (and the runner's Timeout)", () => {
    const build = Effect.map(reserve(1), (value) => ({ value }))
    const reads = Stage.make({
      name: "alpha",
      purpose: "retries while busy",
      provides: Alpha,
      build,
      retry: Schedule.recurs(3).pipe(Schedule.setInputType<Busy | StageFatal>())
    })
    assert.isDefined(reads.retry)
    const wrong = Stage.make({
      name: "alpha",
      purpose: "a schedule for other inputs",
      provides: Alpha,
      build,
      // @ts-expect-error the schedule expects a NotFound, the build fails with Busy
      retry: Schedule.recurs(3).pipe(Schedule.setInputType<NotFound>())
    })
    assert.isDefined(wrong)
  })

  it("a stage from a layer has the layer's errors and requirements", () => {
    const layer = Layer.effect(Beta, Effect.gen(function*() {
      const a = yield* Alpha
      return { value: yield* reserve(a.value) }
    }))
    const stage = Stage.fromLayer({ name: "beta", purpose: "from a layer", provides: Beta, needs: [Alpha], layer })
    expectTypeOf<Stage.Error<typeof stage>>().toEqualTypeOf<Busy>()
    expectTypeOf<Stage.Requirements<typeof stage>>().toEqualTypeOf<Alpha>()
  })

  it("a stage does not require what the runner gives every build: its reporter and the run's Scope", () => {
    const held = Stage.make({
      name: "alpha",
      purpose: "holds a resource and reports",
      provides: Alpha,
      build: Effect.acquireRelease(Effect.succeed({ value: 1 }), () => Effect.void).pipe(
        Effect.tap(() => StageReporter.annotate({ held: true }))
      )
    })
    expectTypeOf<Stage.Requirements<typeof held>>().toEqualTypeOf<never>()
  })

  it("a stage as a layer fails with the stage's errors and requires what the stage requires", () => {
    const s = makeStages()
    expectTypeOf(Stage.toLayer(s.beta)).toEqualTypeOf<Layer.Layer<Beta, never, Alpha>>()
    expectTypeOf(Stage.toLayer(s.failingBeta)).toEqualTypeOf<Layer.Layer<Beta, StageFatal, never>>()
    expectTypeOf(Stage.toLayer(s.gamma)).toEqualTypeOf<Layer.Layer<Gamma, Config.ConfigError, Beta>>()
  })
})
