/**
 * Writing weights as safetensors, atomically: the bytes go to a temporary file
 * in the destination folder, which is then renamed over the destination, so a
 * reader never sees a half-written file (e.g. a pickle checkpoint converted
 * once so that warm starts skip the pickle path).
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"
import { CheckpointError } from "./CheckpointError.ts"
import { encode } from "./safetensors.ts"
import type { Weights } from "./Tensor.ts"

export const saveSafetensors = Effect.fn("saveSafetensors")(function*(
  path: string,
  weights: Weights,
  metadata?: Readonly<Record<string, string>>
) {
  const fs = yield* FileSystem.FileSystem
  const paths = yield* Path.Path
  const temporary = paths.join(paths.dirname(path), `.${paths.basename(path)}.${process.pid}.${Date.now()}.tmp`)
  yield* fs.writeFile(temporary, encode(weights, metadata)).pipe(
    Effect.andThen(fs.rename(temporary, path)),
    Effect.onError(() => fs.remove(temporary, { force: true }).pipe(Effect.ignore)),
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
