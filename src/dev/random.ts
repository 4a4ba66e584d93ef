/**
 * Seeded random numbers for the fixture makers: uniform draws from
 * mulberry32 (the generation code's PRNG) and standard normals from them by
 * Box–Muller, so that the same seed makes the same bytes on every machine.
 *
 * @since 0.5.0
 */
import { mulberry32 } from "../bark/generate/sampling.ts"

export interface Random {
  /** Uniform in [0, 1). */
  readonly uniform: () => number
  /** Standard normal. */
  readonly normal: () => number
}

export const makeRandom = (seed: number): Random => {
  const uniform = mulberry32(seed)
  let spare: number | undefined
  const normal = () => {
    if (spare !== undefined) {
      const s = spare
      spare = undefined
      return s
    }
    const u = 1 - uniform() // (0, 1], keeps log finite
    const r = Math.sqrt(-2 * Math.log(u))
    const theta = 2 * Math.PI * uniform()
    spare = r * Math.sin(theta)
    return r * Math.cos(theta)
  }
  return { uniform, normal }
}
