/**
 * A synthesis request's sampling choices, checked and turned into the
 * generation stages' parameters under the reference names: `temperatures`
 * → `text_temp` (semantic `temp`), `waveform_temp` (coarse `temp`) and the
 * fine `temp` (null = argmax); `sampler` and `seed` → one sampler drawing
 * every token of every chunk in order.
 *
 * @since 0.1.0
 */
import { Effect, Random } from "effect"
import type { CoarseParams } from "../generate/coarse.ts"
import type { FineParams } from "../generate/fine.ts"
import type { SamplerState } from "../generate/sampling.ts"
import type { SemanticParams } from "../generate/semantic.ts"
import type { SynthesisError, SynthesisOptions } from "./BarkEngine.ts"
import { invalidInput } from "./errors.ts"

/** Parameters every request of an engine starts from (e.g. a cap on the semantic length). */
export interface GenerationDefaults {
  readonly semantic?: SemanticParams
  readonly coarse?: CoarseParams
  readonly fine?: FineParams
}

export interface SamplingSettings {
  /**
   * Where the sampler of long-form chunk `index` starts: each chunk draws from
   * a random stream of its own (chunk 0 from the seed itself), so that chunks
   * give the same audio whether generated one after another or together in a
   * batch. Its semantic, coarse and fine stages draw from it in turn.
   */
  readonly samplerFor: (index: number) => SamplerState
  /** The multinomial seed; undefined with argmax. */
  readonly seed: number | undefined
  readonly semantic: SemanticParams
  readonly coarse: CoarseParams
  readonly fine: FineParams
}

const SEED_LIMIT = 2 ** 32

/** The seed of long-form chunk `index`: the seed itself for the first, then a well-mixed step away (golden ratio). */
export const chunkSeed = (seed: number, index: number): number => (seed + Math.imul(index, 0x9e3779b9)) >>> 0

const positive = (value: number) => Number.isFinite(value) && value > 0

/** Checks `options` and builds the request's sampler and stage parameters; a seed is drawn when none is given. */
export const resolveSampling = (
  options: SynthesisOptions,
  defaults: GenerationDefaults = {}
): Effect.Effect<SamplingSettings, SynthesisError> =>
  Effect.gen(function*() {
    const kind = options.sampler ?? "multinomial"
    if (kind !== "multinomial" && kind !== "argmax") {
      return yield* invalidInput(`unknown sampler "${String(kind)}"`, `Use "multinomial" (default) or "argmax".`)
    }
    const { semantic, coarse, fine } = options.temperatures ?? {}
    for (const [name, value] of [["semantic", semantic], ["coarse", coarse]] as const) {
      if (value !== undefined && !positive(value)) {
        return yield* invalidInput(
          `the ${name} temperature must be a positive number, got ${value}`,
          "Use a temperature above 0 (Bark's default is 0.7), or the argmax sampler for greedy decoding."
        )
      }
    }
    if (fine !== undefined && fine !== null && !positive(fine)) {
      return yield* invalidInput(
        `the fine temperature must be a positive number or null, got ${fine}`,
        "Use a temperature above 0 (Bark's default is 0.5), or null for argmax."
      )
    }
    if (options.seed !== undefined && !(Number.isInteger(options.seed) && options.seed >= 0 && options.seed < SEED_LIMIT)) {
      return yield* invalidInput(
        `the seed must be an integer in 0..${SEED_LIMIT - 1}, got ${options.seed}`,
        "Pass a non-negative 32-bit integer, or no seed to have one picked."
      )
    }
    const seed = kind === "argmax" ? undefined : options.seed ?? (yield* Random.nextIntBetween(0, SEED_LIMIT))
    return {
      samplerFor: (index) => seed === undefined ? { kind: "argmax" } : { kind: "multinomial", seed: chunkSeed(seed, index), draws: 0 },
      seed,
      semantic: semantic === undefined ? { ...defaults.semantic } : { ...defaults.semantic, temp: semantic },
      coarse: coarse === undefined ? { ...defaults.coarse } : { ...defaults.coarse, temp: coarse },
      fine: fine === undefined ? { ...defaults.fine } : { ...defaults.fine, temp: fine }
    }
  })
