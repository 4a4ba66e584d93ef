/** Small stages for the DSL's tests: each records that it was built. */
import { Config, Context, Effect, Tracer } from "effect"
import * as Stage from "../../src/pipeline/Stage.ts"
import { StageFatal } from "../../src/pipeline/StageFatal.ts"
import * as StageReporter from "../../src/pipeline/StageReporter.ts"

export class Alpha extends Context.Service<Alpha, { readonly value: number }>()("test/Alpha") {}
export class Beta extends Context.Service<Beta, { readonly value: number }>()("test/Beta") {}
export class Gamma extends Context.Service<Gamma, { readonly value: string }>()("test/Gamma") {}

export const makeStages = () => {
  const built: Array<string> = []
  const alpha = Stage.make({
    name: "alpha",
    purpose: "provides 1",
    provides: Alpha,
    build: Effect.sync(() => {
      built.push("alpha")
      return { value: 1 }
    })
  })
  const beta = Stage.make({
    name: "beta",
    purpose: "doubles alpha",
    provides: Beta,
    needs: [Alpha],
    build: Effect.gen(function*() {
      const a = yield* Alpha
      built.push("beta")
      yield* StageReporter.annotate({ doubled: a.value * 2 })
      return { value: a.value * 2 }
    })
  })
  const gamma = Stage.make({
    name: "gamma",
    purpose: "describes beta",
    provides: Gamma,
    needs: [Beta],
    build: Effect.gen(function*() {
      const b = yield* Beta
      built.push("gamma")
      return { value: `beta=${b.value}` }
    }),
    skip: {
      when: Config.Boolean("TEST_SKIP_GAMMA").pipe(
        Config.withDefault(false),
        Effect.map((skip) => (skip ? "TEST_SKIP_GAMMA is set" : undefined))
      ),
      value: Effect.succeed({ value: "skipped" })
    }
  })
  const failingBeta = Stage.make({
    name: "beta",
    purpose: "always fails",
    provides: Beta,
    needs: [Alpha],
    build: Effect.sync(() => built.push("failing-beta")).pipe(
      Effect.andThen(Effect.fail(new StageFatal({ message: "beta broke", remediation: "fix beta" })))
    )
  })
  const warningBeta = Stage.make({
    name: "beta",
    purpose: "warns and degrades",
    provides: Beta,
    needs: [Alpha],
    build: StageReporter.warn("beta is degraded", "install the fast path").pipe(Effect.as({ value: 0 }))
  })
  return { built, alpha, beta, gamma, failingBeta, warningBeta }
}

/** A tracer that keeps every span it makes, for tests of what the runner traces. */
export const recordingTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}
