/**
 * Atomic file writes: the data goes to a hidden temporary file in the target's
 * folder, which is renamed over the target once complete. A reader sees the
 * old file or the new one, never half of one, and a failed write removes its
 * temporary file.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"

export const writeAtomic = Effect.fn("writeAtomic")(function*(target: string, data: Uint8Array | string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`)
  yield* (typeof data === "string" ? fs.writeFileString(temporary, data) : fs.writeFile(temporary, data)).pipe(
    Effect.andThen(fs.rename(temporary, target)),
    Effect.onError(() => fs.remove(temporary, { force: true }).pipe(Effect.ignore))
  )
})
