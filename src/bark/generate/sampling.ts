/**
 * The sampling primitive of suno-ai/bark's semantic and coarse stages: top-p on
 * the untempered logits, then top-k, then softmax(z / temp), then one draw.
 * The draw is a `Sampler`: greedy (`argmax`) or a seeded multinomial.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { GenerationInputError } from "./errors.ts"

/** Picks one index from probabilities that sum to 1 (zero entries are never picked). */
export type Sampler = (probs: Float32Array) => number

/** Index of the largest value of `values[start..end)`, relative to `start`; the first one on ties. */
export const argmaxOf = (values: ArrayLike<number>, start = 0, end = values.length): number => {
  let best = start
  for (let i = start + 1; i < end; i++) if (values[i]! > values[best]!) best = i
  return best - start
}

/** Greedy decoding: the most probable index. */
export const argmax: Sampler = (probs) => argmaxOf(probs)

/** mulberry32, a 32-bit PRNG with a 2^32 period: uniform draws in [0, 1), the same for a seed on every platform. */
export const mulberry32 = (seed: number): () => number => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/** A multinomial sampler driven by `mulberry32(seed)`. */
export const multinomial = (seed: number): Sampler => {
  const uniform = mulberry32(seed)
  return (probs) => {
    let total = 0
    for (let i = 0; i < probs.length; i++) total += probs[i]!
    const u = uniform() * total
    let cumulative = 0
    let last = 0
    for (let i = 0; i < probs.length; i++) {
      const p = probs[i]!
      if (p <= 0) continue
      cumulative += p
      last = i
      if (u < cumulative) return i
    }
    return last // rounding left u at the very top
  }
}

/**
 * Where a sampler stands, as plain data that crosses threads: argmax, or a
 * multinomial sampler's seed and the draws it has made. mulberry32 adds one
 * constant to its state per draw, so the state after n draws is
 * `seed + n · 0x6d2b79f5`: a sampler resumed from this record draws exactly
 * what the original would have drawn next.
 */
export type SamplerState =
  | { readonly kind: "argmax" }
  | { readonly kind: "multinomial"; readonly seed: number; readonly draws: number }

const MULBERRY32_INCREMENT = 0x6d2b79f5

/** A sampler that continues from `from`, and a read of where it stands after the draws made with it. */
export const resumeSampler = (from: SamplerState): { readonly sampler: Sampler; readonly state: () => SamplerState } => {
  if (from.kind === "argmax") return { sampler: argmax, state: () => from }
  let draws = from.draws
  const next = multinomial((from.seed + Math.imul(draws, MULBERRY32_INCREMENT)) >>> 0)
  return {
    sampler: (probs) => {
      draws++
      return next(probs)
    },
    state: () => ({ kind: "multinomial", seed: from.seed, draws })
  }
}

export interface SamplingParams {
  /** Softmax temperature, > 0. */
  readonly temp: number
  /** Keep the k largest logits (ties with the k-th kept); null = off. */
  readonly topK: number | null
  /** Keep the smallest set of most probable entries whose mass reaches top_p (untempered); null = off. */
  readonly topP: number | null
}

/** Rejects parameters the primitive cannot run with. */
export const checkSamplingParams = (stage: string, params: SamplingParams): Effect.Effect<void, GenerationInputError> => {
  const problem = !(params.temp > 0) || !Number.isFinite(params.temp)
    ? `temperature must be a positive number, got ${params.temp}`
    : params.topK !== null && !(Number.isInteger(params.topK) && params.topK >= 1)
    ? `top_k must be an integer ≥ 1 or null, got ${params.topK}`
    : params.topP !== null && !(params.topP >= 0 && params.topP <= 1)
    ? `top_p must be between 0 and 1 or null, got ${params.topP}`
    : undefined
  return problem === undefined
    ? Effect.void
    : Effect.fail(
      new GenerationInputError({ stage, message: `${stage} sampling: ${problem}`, remediation: "Fix the sampling parameter." })
    )
}

/**
 * Turns `logits` into probabilities in place: numerically stable softmax of
 * `logits / temp`, the division rounded to float32 as the reference does.
 */
export const softmaxInPlace = (logits: Float32Array, temp: number): void => {
  let max = -Infinity
  for (let i = 0; i < logits.length; i++) {
    const v = Math.fround(logits[i]! / temp)
    logits[i] = v
    if (v > max) max = v
  }
  let sum = 0
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i]! - max)
    logits[i] = e
    sum += e
  }
  for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / sum
}

/**
 * Builds the reusable filter-and-draw step for one stage. Calling it filters
 * and softmaxes `logits` in place (afterwards they hold the probabilities the
 * draw used) and returns the drawn index. Scratch buffers are kept between
 * calls, so a token costs no allocation.
 */
export const makeTokenSampler = (params: SamplingParams, sampler: Sampler): (logits: Float32Array) => number => {
  let order = new Uint32Array(0)
  let scratch = new Float32Array(0)
  const ensure = (n: number) => {
    if (order.length < n) {
      order = new Uint32Array(n)
      scratch = new Float32Array(n)
    }
  }

  // numpy's argsort(z)[::-1]: descending, larger index first on ties.
  const topP = (z: Float32Array, p: number) => {
    const n = z.length
    const idx = order.subarray(0, n)
    for (let i = 0; i < n; i++) idx[i] = i
    idx.sort((a, b) => z[b]! - z[a]! || b - a)
    const max = z[idx[0]!]!
    let sum = 0
    for (let i = 0; i < n; i++) sum += Math.fround(Math.exp(z[idx[i]!]! - max))
    // cumulative float32 mass; an entry goes when the mass BEFORE it already exceeds p
    const limit = Math.fround(p)
    let cumulative = 0
    let exceeded = false
    for (let i = 0; i < n; i++) {
      const j = idx[i]!
      const prob = Math.fround(Math.fround(Math.exp(z[j]! - max)) / sum)
      if (exceeded) z[j] = -Infinity
      cumulative = Math.fround(cumulative + prob)
      if (cumulative > limit) exceeded = true
    }
  }

  const topK = (z: Float32Array, k: number) => {
    const n = z.length
    const sorted = scratch.subarray(0, n)
    sorted.set(z)
    sorted.sort()
    const threshold = sorted[n - Math.min(k, n)]!
    for (let i = 0; i < n; i++) if (z[i]! < threshold) z[i] = -Infinity
  }

  return (logits) => {
    ensure(logits.length)
    if (params.topP !== null) topP(logits, params.topP)
    if (params.topK !== null) topK(logits, params.topK)
    softmaxInPlace(logits, params.temp)
    return sampler(logits)
  }
}
