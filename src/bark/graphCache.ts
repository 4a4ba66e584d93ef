/**
 * The graph cache: ONNX graphs built from a checkpoint (and onnxruntime's
 * optimised copies of them), stored under `{CacheDirs.own}/graphs/<key>/` so
 * a warm start skips building them.
 *
 * The key is the sha256 of what the graph depends on: the checkpoint's
 * sha256, the graph builder's version, the graph's name, its dtype and the
 * execution provider (plus, for optimised copies, onnxruntime's version and
 * the machine, since optimised graphs are hardware specific).
 *
 * An entry is a folder holding the model, its external weight files and a
 * `manifest.json` with every file's size and sha256. Entries are written in a
 * staging folder, the manifest last, and renamed into place, so a half-written
 * entry is never visible; a lookup re-hashes the files and reports an entry
 * whose manifest or files do not match as invalid, never as a hit.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path, Schema, type Scope } from "effect"
import { createHash } from "node:crypto"
import * as os from "node:os"
import { sha256File } from "../hub/Checksum.ts"
import type { BuiltModel } from "../onnx/graph.ts"

/**
 * Version of the graph builders (src/bark/gpt/graph.ts, src/bark/codec/graph.ts,
 * src/onnx/graph.ts). Bump it whenever a change alters the graphs they emit:
 * every cached graph is then rebuilt.
 */
export const GRAPH_BUILDER_VERSION = "2"

/** What a cached graph depends on. */
export interface GraphKeyInputs {
  readonly checkpointSha256: string
  /** The graph's name, e.g. "semantic" or "codec". */
  readonly graph: string
  readonly dtype: "float32"
  readonly executionProvider: string
  readonly builderVersion: string
  /** Set for onnxruntime's optimised copy of the graph. */
  readonly optimization?: {
    readonly level: string
    readonly onnxruntime: string
    readonly platform: string
    readonly cpu: string
  }
}

export const graphKey = (inputs: GraphKeyInputs): string =>
  createHash("sha256").update(JSON.stringify(canonical(inputs))).digest("hex")

/** `inputs` with keys sorted at every level, so the key does not depend on property order. */
const canonical = (value: unknown): unknown =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
    : value

/** The machine an optimised graph was made for (onnxruntime's optimisations use the CPU's instruction set). */
export const machine = (): { readonly platform: string; readonly cpu: string } => ({
  platform: `${process.platform}-${process.arch}`,
  cpu: os.cpus()[0]?.model.trim() ?? "unknown"
})

const FileEntry = Schema.Struct({ path: Schema.String, bytes: Schema.Number, sha256: Schema.String })

export const Manifest = Schema.Struct({
  format: Schema.Literal(1),
  key: Schema.String,
  /** The `.onnx` file, relative to the entry folder. */
  model: Schema.String,
  files: Schema.Array(FileEntry),
  inputs: Schema.Unknown,
  createdAt: Schema.String
})
export type Manifest = typeof Manifest.Type

export class GraphCacheError extends Schema.TaggedError<GraphCacheError>()("GraphCacheError", {
  message: Schema.String,
  remediation: Schema.String
}) {}

export type Lookup =
  | { readonly _tag: "Hit"; readonly modelPath: string; readonly bytes: number }
  | { readonly _tag: "Miss" }
  /** An entry exists but cannot be trusted (and was removed). */
  | { readonly _tag: "Invalid"; readonly reason: string }

/** A staging folder that a writer fills (e.g. onnxruntime's `optimizedModelFilePath`); `commit` makes it the entry. */
export interface Staging {
  readonly dir: string
  readonly modelPath: string
  /** Hashes the files, writes the manifest and renames the folder into place; returns the entry's model path. */
  readonly commit: Effect.Effect<string, GraphCacheError>
}

const MANIFEST = "manifest.json"
const MODEL_FILE = "model.onnx"

const describe = (e: unknown) => (e instanceof Error || (typeof e === "object" && e !== null && "message" in e)
  ? String((e as { message: unknown }).message)
  : String(e))

/** The graph cache rooted at `root` (normally `{CacheDirs.own}/graphs`). */
export const make = (root: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const entryDir = (key: string) => path.join(root, key)
    const sha256 = (file: string) => sha256File(file).pipe(Effect.provideService(FileSystem.FileSystem, fs))
    const writeError = (what: string) => (e: unknown) =>
      new GraphCacheError({
        message: `could not ${what} in the graph cache ${root}: ${describe(e)}`,
        remediation: "check free space and permissions under BARK_CACHE_DIR; the graphs are rebuilt in memory meanwhile"
      })

    const readManifest = (dir: string) =>
      fs.readFileString(path.join(dir, MANIFEST)).pipe(
        Effect.flatMap(Schema.decodeUnknownEffect(Schema.fromJsonString(Manifest))),
        Effect.mapError((e) => `unreadable manifest: ${describe(e)}`)
      )

    /** Why the entry in `dir` cannot be trusted, or undefined when every file matches its manifest. */
    const verify = (dir: string, key: string, manifest: Manifest, hashes: boolean) =>
      Effect.gen(function*() {
        if (manifest.key !== key) return `the manifest names key ${manifest.key}`
        if (!manifest.files.some((f) => f.path === manifest.model)) return `the manifest does not list its model ${manifest.model}`
        for (const file of manifest.files) {
          const full = path.join(dir, file.path)
          if (path.dirname(full) !== dir) return `the manifest names a file outside the entry: ${file.path}`
          const size = yield* fs.stat(full).pipe(Effect.map((s) => Number(s.size)), Effect.orElseSucceed(() => -1))
          if (size < 0) return `${file.path} is missing`
          if (size !== file.bytes) return `${file.path} has ${size} bytes, the manifest says ${file.bytes}`
          if (hashes) {
            const sha = yield* sha256(full).pipe(Effect.orElseSucceed(() => "unreadable"))
            if (sha !== file.sha256) return `${file.path} does not match its sha256`
          }
        }
        return undefined
      })

    const removeEntry = (dir: string) => fs.remove(dir, { recursive: true, force: true }).pipe(Effect.ignore)

    /** Looks `key` up, re-hashing every file. An entry that does not verify is removed and reported `Invalid`. */
    const lookup = (key: string): Effect.Effect<Lookup> =>
      Effect.gen(function*() {
        const dir = entryDir(key)
        if (!(yield* fs.exists(dir).pipe(Effect.orElseSucceed(() => false)))) return { _tag: "Miss" } as const
        const manifest = yield* Effect.result(readManifest(dir))
        const reason = manifest._tag === "Failure"
          ? manifest.failure
          : yield* verify(dir, key, manifest.success, true)
        if (reason !== undefined || manifest._tag === "Failure") {
          yield* removeEntry(dir)
          return { _tag: "Invalid", reason: reason ?? "unreadable manifest" } as const
        }
        return {
          _tag: "Hit",
          modelPath: path.join(dir, manifest.success.model),
          bytes: manifest.success.files.reduce((n, f) => n + f.bytes, 0)
        } as const
      })

    /** A fresh staging folder for `key`, removed with the scope unless committed. */
    const stage = (key: string, inputs: GraphKeyInputs): Effect.Effect<Staging, GraphCacheError, Scope.Scope> =>
      Effect.gen(function*() {
        yield* fs.makeDirectory(root, { recursive: true }).pipe(Effect.mapError(writeError("create the folder")))
        const dir = path.join(root, `.staging-${key.slice(0, 16)}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`)
        yield* Effect.acquireRelease(
          fs.makeDirectory(dir).pipe(Effect.mapError(writeError("create a staging folder"))),
          () => removeEntry(dir)
        )
        const commit = Effect.gen(function*() {
          const names = yield* fs.readDirectory(dir)
          const files = yield* Effect.forEach(names.toSorted(), (name) =>
            Effect.all({
              path: Effect.succeed(name),
              bytes: Effect.map(fs.stat(path.join(dir, name)), (s) => Number(s.size)),
              sha256: sha256(path.join(dir, name))
            }))
          const manifest: Manifest = { format: 1, key, model: MODEL_FILE, files, inputs, createdAt: new Date().toISOString() }
          const tmp = path.join(dir, `${MANIFEST}.tmp`)
          yield* fs.writeFileString(tmp, JSON.stringify(manifest, null, 2) + "\n")
          yield* fs.rename(tmp, path.join(dir, MANIFEST))
          const target = entryDir(key)
          yield* removeEntry(target)
          yield* fs.rename(dir, target).pipe(
            // Another process committed the same key first: its entry is as good as ours.
            Effect.catch((e) => Effect.flatMap(fs.exists(path.join(target, MANIFEST)), (ok) => ok ? Effect.void : Effect.fail(e)))
          )
          return path.join(target, MODEL_FILE)
        }).pipe(Effect.mapError(writeError("commit an entry")))
        return { dir, modelPath: path.join(dir, MODEL_FILE), commit }
      })

    /** Stores `built` as the entry `key`; returns its model path. */
    const store = (key: string, inputs: GraphKeyInputs, built: BuiltModel): Effect.Effect<string, GraphCacheError> =>
      Effect.scoped(Effect.gen(function*() {
        const staging = yield* stage(key, inputs)
        for (const file of built.externalData) {
          if (path.basename(file.path) !== file.path || file.path === MANIFEST || file.path === MODEL_FILE) {
            return yield* new GraphCacheError({
              message: `the graph's external data file "${file.path}" cannot be stored in the graph cache`,
              remediation: "graph builders must name external data files with a plain file name; this is a bug, report it"
            })
          }
          yield* fs.writeFile(path.join(staging.dir, file.path), file.data).pipe(Effect.mapError(writeError("write a graph")))
        }
        yield* fs.writeFile(staging.modelPath, built.model).pipe(Effect.mapError(writeError("write a graph")))
        return yield* staging.commit
      }))

    /**
     * Reads the entry of `modelPath` back into memory for onnxruntime (weights
     * loaded from memory are prepacked; memory-mapped external data is not,
     * and runs about a third slower). Checks sizes only: `lookup` hashed it.
     */
    const read = (modelPath: string): Effect.Effect<BuiltModel, GraphCacheError> =>
      Effect.gen(function*() {
        const dir = path.dirname(modelPath)
        const manifest = yield* readManifest(dir)
        const reason = yield* verify(dir, manifest.key, manifest, false)
        if (reason !== undefined) return yield* Effect.fail(reason)
        const model = yield* fs.readFile(modelPath)
        const externalData = yield* Effect.forEach(
          manifest.files.filter((f) => f.path !== manifest.model),
          (f) => Effect.map(fs.readFile(path.join(dir, f.path)), (data) => ({ path: f.path, data }))
        )
        return { model, externalData }
      }).pipe(Effect.mapError((e) =>
        new GraphCacheError({
          message: `the cached graph ${modelPath} cannot be read: ${describe(e)}`,
          remediation: "restart the service to rebuild it, or delete the folder; check the disk if it happens again"
        })
      ))

    return { root, lookup, stage, store, read }
  })

export type GraphCache = Effect.Success<ReturnType<typeof make>>
