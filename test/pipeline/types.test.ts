/**
 * Type-level checks, enforced by `tsc --noEmit` (part of `npm test`): a recipe
 * that lacks a stage another stage needs cannot be run without providing that
 * service, so it does not compile where the runner expects a complete recipe.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Effect, Scope } from "effect"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Runner from "../../src/pipeline/Runner.ts"
import { Alpha, makeStages } from "./fixtures.ts"

type Complete = Effect.Effect<Runner.Ready<any>, Runner.PipelineFailed, Scope.Scope>

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

  it("replace only accepts a stage providing a service the recipe already has", () => {
    const s = makeStages()
    const p = Pipeline.make("p", "d").pipe(Pipeline.add(s.alpha))
    // @ts-expect-error gamma provides Gamma, which p does not provide
    const wrong: Pipeline.Pipeline<unknown, unknown> = p.pipe(Pipeline.replace("alpha", s.gamma))
    assert.isDefined(wrong)
  })
})
