/**
 * Helpers for the tests of the safe-load, preload and compile stages: a tiny
 * random model directory as fetch-weights would provide it, the recipe from
 * safe-load to compile on a given backend, stages that provide a given value,
 * a backend that counts its sessions (and records how each was opened), a
 * short generation, and the graph cache's folders on disk.
 */
import { type Context, Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { generateAudio } from "../../../src/bark/generate/generate.ts"
import type { BarkModels } from "../../../src/bark/models.ts"
import { makeRandomCheckpoint, presets, type RandomCheckpointOptions } from "../../../src/dev/randomCheckpoint.ts"
import { writeBarkModelDir } from "../../../src/dev/modelDir.ts"
import { ModelFiles } from "../../../src/bark/services.ts"
import * as CacheDirs from "../../../src/bark/stages/cacheDirs.ts"
import * as Compile from "../../../src/bark/stages/compile.ts"
import * as Preload from "../../../src/bark/stages/preload.ts"
import * as SafeLoad from "../../../src/bark/stages/safeLoad.ts"
import type { SessionOptions } from "../../../src/onnx/InferenceBackend.ts"
import { InferenceBackend } from "../../../src/onnx/InferenceBackend.ts"
import * as Pipeline from "../../../src/pipeline/Pipeline.ts"
import * as Stage from "../../../src/pipeline/Stage.ts"

/** A fresh temporary directory, removed with the scope. */
export const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** A fresh cache directory (BARK_CACHE_DIR), removed with the scope. */
export const tempCache = tempDir("bark-stages-")

/** ModelFiles for a local model directory, as fetch-weights provides it (no known sha256: safe-load hashes the file). */
export const localFiles = (dir: string, weightsFile = "model.safetensors") =>
  ModelFiles.of({
    source: "local",
    model: dir,
    revision: undefined,
    commit: undefined,
    dir,
    files: [weightsFile, "config.json"],
    weightsFile,
    weightsSha256: undefined
  })

/** A tiny random model directory (config.json, model.safetensors, vocab, no voices) in a temporary folder. */
export const tinyModel = (options: Partial<RandomCheckpointOptions> = {}) =>
  Effect.gen(function*() {
    const dir = yield* tempDir("bark-model-")
    const checkpoint = yield* makeRandomCheckpoint({ ...presets.tiny, ...options })
    yield* writeBarkModelDir(dir, checkpoint, { voices: 0 })
    return { dir, checkpoint, files: localFiles(dir) }
  })

/** A stage providing `value` for `key`. */
export const given = <I, S>(name: string, key: Context.Key<I, S>, value: S) =>
  Stage.make({ name, purpose: "test input", provides: key, build: Effect.succeed(value) })

/** cache-dirs, the given model files, safe-load, the given backend, preload, and (unless `compile` is false) compile. */
export const modelRecipe = (
  files: typeof ModelFiles.Service,
  backend: typeof InferenceBackend.Service,
  options: { readonly compile?: boolean } = {}
) => {
  const loaded = Pipeline.make("model-stages-test", "cache, files, safe-load, backend, preload, compile").pipe(
    Pipeline.add(CacheDirs.stage),
    Pipeline.add(given("files", ModelFiles, files)),
    Pipeline.add(SafeLoad.stage),
    Pipeline.add(given("backend", InferenceBackend, backend)),
    Pipeline.add(Preload.stage)
  )
  return options.compile === false ? loaded : loaded.pipe(Pipeline.add(Compile.stage))
}

export interface SessionRecord {
  readonly model: string
  /** The graph's path (sessions opened from the cache) or "in-memory". */
  readonly source: string
  readonly options: SessionOptions
}

/** The CPU backend, counting the sessions it creates and releases and the most open at once, and recording how each was opened. */
export const countingBackend = () => {
  const base = Effect.runSync(Effect.provide(
    Effect.gen(function*() {
      return yield* InferenceBackend
    }),
    InferenceBackend.cpu({ intraOpNumThreads: 1 })
  ))
  const counts = { created: 0, released: 0, open: 0, maxOpen: 0, models: [] as Array<string> }
  const sessions: Array<SessionRecord> = []
  const backend = InferenceBackend.of({
    ...base,
    createSession: (source, options) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          counts.created++
          counts.open++
          counts.maxOpen = Math.max(counts.maxOpen, counts.open)
          counts.models.push(options.model)
          sessions.push({ model: options.model, source: typeof source === "string" ? source : "in-memory", options })
        }),
        () =>
          Effect.sync(() => {
            counts.released++
            counts.open--
          })
      ).pipe(Effect.andThen(base.createSession(source, options)))
  })
  return { backend, counts, sessions }
}

/** A short, seeded generation: a few semantic tokens through to audio. */
export const speak = (models: BarkModels) =>
  generateAudio(models, { textIds: [101, 102, 103] }, { seed: 7, semantic: { maxGenDurationS: 0.2, allowEarlyStop: false } })

/** The graph cache's folder under a BARK_CACHE_DIR. */
export const graphsRoot = (cacheDir: string) => path.join(cacheDir, "bark-pipeline", "graphs")

/** Every committed graph-cache entry folder under `cacheDir`. */
export const graphEntries = (cacheDir: string): ReadonlyArray<string> => {
  const root = graphsRoot(cacheDir)
  return fs.existsSync(root)
    ? fs.readdirSync(root).filter((d) => !d.startsWith(".")).map((d) => path.join(root, d))
    : []
}

/** Everything under the graph cache's folder, hidden names (staging folders) included. */
export const graphsListing = (cacheDir: string): ReadonlyArray<string> => {
  const root = graphsRoot(cacheDir)
  return fs.existsSync(root) ? fs.readdirSync(root).sort() : []
}
