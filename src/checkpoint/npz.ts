/**
 * NumPy's `.npz` archives (`np.savez`, `np.savez_compressed`): a zip of
 * `.npy` files, one per array, named after the keyword they were saved under.
 * Suno's voice prompts ship in this format.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { inMemory } from "./CheckpointError.ts"
import { decodeNpy } from "./npy.ts"
import type { Tensor } from "./Tensor.ts"
import { readZip } from "./zip.ts"

/** Decodes every `.npy` member of an `.npz` archive, keyed by name without the `.npy` suffix. */
export const decodeNpz = Effect.fn("decodeNpz")(function*(bytes: Uint8Array, file: string = inMemory) {
  const entries = yield* readZip(bytes, file)
  const arrays: Map<string, Tensor> = new Map()
  for (const [name, data] of entries) {
    if (!name.endsWith(".npy")) continue
    arrays.set(name.slice(0, -4), yield* decodeNpy(data, `${file}:${name}`))
  }
  return arrays
})
