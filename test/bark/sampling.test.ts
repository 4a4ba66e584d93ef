import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { argmax, argmaxOf, checkSamplingParams, makeTokenSampler, multinomial, softmaxInPlace } from "../../src/bark/generate/sampling.ts"

/** Records the probabilities the draw received and answers with argmax. */
const recording = () => {
  const seen: Array<Float32Array> = []
  return { seen, sampler: (p: Float32Array) => (seen.push(p.slice()), argmax(p)) }
}

describe("softmaxInPlace", () => {
  it("divides by the temperature before normalising", () => {
    const z = Float32Array.of(0, Math.log(3))
    softmaxInPlace(z, 1)
    assert.closeTo(z[0]!, 0.25, 1e-7)
    assert.closeTo(z[1]!, 0.75, 1e-7)
    const y = Float32Array.of(0, Math.log(3))
    softmaxInPlace(y, 0.5) // exp(2·ln3) = 9
    assert.closeTo(y[1]!, 0.9, 1e-7)
  })

  it("gives -Infinity entries zero probability and survives large logits", () => {
    const z = Float32Array.of(1000, -Infinity, 999)
    softmaxInPlace(z, 1)
    assert.strictEqual(z[1], 0)
    assert.closeTo(z[0]! + z[2]!, 1, 1e-6)
  })
})

describe("argmax", () => {
  it("takes the first of equal maxima, within a range", () => {
    assert.strictEqual(argmax(Float32Array.of(0.1, 0.4, 0.4, 0.1)), 1)
    assert.strictEqual(argmaxOf([9, 1, 5, 5, 9], 1, 4), 1) // index 2 relative to start 1
  })
})

describe("multinomial", () => {
  it("repeats its draws for the same seed and differs for another", () => {
    const probs = new Float32Array(50).fill(1 / 50)
    const draw = (seed: number) => {
      const s = multinomial(seed)
      return Array.from({ length: 20 }, () => s(probs))
    }
    assert.deepStrictEqual(draw(7), draw(7))
    assert.notDeepEqual(draw(7), draw(8))
  })

  it("follows the probabilities and never picks a zero entry", () => {
    const s = multinomial(123)
    const probs = Float32Array.of(0.2, 0, 0.8)
    const counts = [0, 0, 0]
    for (let i = 0; i < 5000; i++) counts[s(probs)]!++
    assert.strictEqual(counts[1], 0)
    assert.closeTo(counts[2]! / 5000, 0.8, 0.03)
  })
})

describe("makeTokenSampler", () => {
  it("top-k keeps the k largest, ties with the k-th included", () => {
    const { seen, sampler } = recording()
    const pick = makeTokenSampler({ temp: 1, topK: 2, topP: null }, sampler)
    pick(Float32Array.of(1, 3, 2, 2, 0))
    const p = seen[0]!
    assert.strictEqual(p[0], 0)
    assert.strictEqual(p[4], 0)
    // 3, 2, 2 survive: e^3 / (e^3 + 2e^2)
    assert.closeTo(p[1]!, Math.E / (Math.E + 2), 1e-6)
    assert.strictEqual(p[2], p[3])
  })

  it("top-p works on untempered logits and keeps the token that crosses the mass", () => {
    // untempered probabilities 0.5, 0.3, 0.2 (logits are their logs)
    const logits = () => Float32Array.of(Math.log(0.2), Math.log(0.5), Math.log(0.3))
    const run = (topP: number, temp: number) => {
      const { seen, sampler } = recording()
      makeTokenSampler({ temp, topK: null, topP }, sampler)(logits())
      return Array.from(seen[0]!, (v) => v > 0)
    }
    // mass 0.5 does not exceed 0.6, so 0.3 is kept; it crosses 0.6, so 0.2 goes
    assert.deepStrictEqual(run(0.6, 1), [false, true, true])
    // a high temperature flattens the draw but must not change the set
    assert.deepStrictEqual(run(0.6, 50), [false, true, true])
    assert.deepStrictEqual(run(0.4, 1), [false, true, false])
    assert.deepStrictEqual(run(1, 1), [true, true, true])
  })

  it("applies top-p before top-k, then the temperature", () => {
    const { seen, sampler } = recording()
    const pick = makeTokenSampler({ temp: 2, topK: 1, topP: 0.9 }, sampler)
    const index = pick(Float32Array.of(0, 4, 3))
    assert.strictEqual(index, 1)
    assert.deepStrictEqual(Array.from(seen[0]!), [0, 1, 0])
  })

  it("reuses its buffers across vocabularies of different sizes", () => {
    const pick = makeTokenSampler({ temp: 1, topK: 1, topP: 0.5 }, argmax)
    assert.strictEqual(pick(Float32Array.of(0, 1, 5, 2)), 2)
    assert.strictEqual(pick(Float32Array.of(7, 1)), 0)
    assert.strictEqual(pick(Float32Array.of(0, 1, 2, 3, 4, 9, 6, 5)), 5)
  })
})

describe("checkSamplingParams", () => {
  it.effect("rejects a non-positive temperature and bad filters", () =>
    Effect.gen(function*() {
      for (const params of [
        { temp: 0, topK: null, topP: null },
        { temp: 0.7, topK: 0, topP: null },
        { temp: 0.7, topK: 2.5, topP: null },
        { temp: 0.7, topK: null, topP: 1.5 }
      ]) {
        const error = yield* Effect.flip(checkSamplingParams("semantic", params))
        assert.strictEqual(error._tag, "GenerationInputError")
        assert.include(error.message, "semantic sampling")
      }
      yield* checkSamplingParams("coarse", { temp: 0.7, topK: 50, topP: 0.95 })
    }))
})
