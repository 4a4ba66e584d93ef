/**
 * Writing weights as safetensors, atomically: the bytes go to a temporary file
 * in the destination folder, which is then renamed over the destination, so a
 * reader never sees a half-written file (e.g. a pickle checkpoint converted
 * once so that warm starts skip the pickle path).
 *
 * @since 0.1.0
 */
import { writeAtomic } from "../files/writeAtomic.ts"
import { Effect } from "effect"
import { CheckpointError } from "./CheckpointError.ts"
import { encode } from "./safetensors.ts"
import type { Weights } from "./Tensor.ts"

export const saveSafetensors = Effect.fn("saveSafetensors")(function*(
  path: string,
  weights: Weights,
  metadata?: Readonly<Record<string, string>>
) {
  yield* writeAtomic(path, encode(weights, metadata)).pipe(
    Effect.mapError((error) =>
      new CheckpointError({
        file: path,
        reason: "io",
        message: `cannot write the safetensors file: ${error.message}`,
        remediation: "Check that the folder exists, is writable and has room for the file."
      })
    )
  )
})
