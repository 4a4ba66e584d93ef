/**
 * Helpers for the tests of the device, preload and compile stages: loaded
 * weights of a tiny random checkpoint, stages that provide a given value, a
 * backend that counts its sessions, and a short generation.
 */
import { type Context, Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decodeBarkConfig } from "../../../src/bark/config.ts"
import { generateAudio } from "../../../src/bark/generate/generate.ts"
import type { BarkModels } from "../../../src/bark/models.ts"
import { makeRandomCheckpoint, presets } from "../../../src/bark/randomCheckpoint.ts"
import { LoadedWeights } from "../../../src/bark/services.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import * as Stage from "../../../src/pipeline/Stage.ts"

/** A tiny random checkpoint as safe-load would provide it. */
export const tinyWeights = (sha256 = "a".repeat(64)) =>
  Effect.gen(function*() {
    const checkpoint = yield* makeRandomCheckpoint(presets.tiny)
    const config = yield* decodeBarkConfig(checkpoint.config)
    return LoadedWeights.of({ config, tensors: checkpoint.tensors, format: "safetensors", sha256 })
  })

/** A stage providing `value` for `key`. */
export const given = <I, S>(name: string, key: Context.Key<I, S>, value: S) =>
  Stage.make({ name, purpose: "test input", provides: key, build: Effect.succeed(value) })

/** A fresh cache directory, removed with the scope. */
export const tempCache = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "bark-stages-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** The CPU backend, counting the sessions it creates and releases and the most open at once. */
export const countingBackend = () => {
  const base = Effect.runSync(Effect.provide(
    Effect.gen(function*() {
      return yield* InferenceBackend
    }),
    InferenceBackend.cpu({ intraOpNumThreads: 1 })
  ))
  const counts = { created: 0, released: 0, open: 0, maxOpen: 0, models: [] as Array<string> }
  const backend = InferenceBackend.of({
    ...base,
    createSession: (source, options) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          counts.created++
          counts.open++
          counts.maxOpen = Math.max(counts.maxOpen, counts.open)
          counts.models.push(options.model)
        }),
        () =>
          Effect.sync(() => {
            counts.released++
            counts.open--
          })
      ).pipe(Effect.andThen(base.createSession(source, options)))
  })
  return { backend, counts }
}

/** A short, seeded generation: a few semantic tokens through to audio. */
export const speak = (models: BarkModels) =>
  generateAudio(models, { textIds: [101, 102, 103] }, { seed: 7, semantic: { maxGenDurationS: 0.2, allowEarlyStop: false } })

/** Every graph-cache entry folder under `cacheDir`. */
export const graphEntries = (cacheDir: string): ReadonlyArray<string> => {
  const root = path.join(cacheDir, "bark-pipeline", "graphs")
  return fs.existsSync(root)
    ? fs.readdirSync(root).filter((d) => !d.startsWith(".")).map((d) => path.join(root, d))
    : []
}
