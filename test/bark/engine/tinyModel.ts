/**
 * A tiny random Bark model directory for engine tests (vocab, two voices,
 * weights at the `tiny` preset), and a cap on generation so that random
 * weights, which never emit EOS, stop after a few dozen semantic tokens.
 */
import { Effect, FileSystem } from "effect"
import type { EngineOptions } from "../../../src/bark/engine/inProcess.ts"
import { makeRandomCheckpoint, presets } from "../../../src/dev/randomCheckpoint.ts"
import { writeBarkModelDir } from "../../../src/dev/modelDir.ts"

/** About 25 semantic tokens per chunk; short chunks (at most 10 words). */
export const testEngineOptions: EngineOptions = {
  generation: { semantic: { maxGenDurationS: 0.5 } },
  split: { maxWords: 10 }
}

/** Writes the tiny model into a new temporary directory (removed with the scope) and returns its path. */
export const tinyModelDir = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "bark-engine-" })
  yield* writeBarkModelDir(dir, yield* makeRandomCheckpoint(presets.tiny), { voices: 2 })
  return dir
})
