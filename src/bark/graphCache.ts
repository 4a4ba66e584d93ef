/**
 * The graph cache: checkpoints converted once into the ONNX graphs of their
 * four sub-models, stored under `{CacheDirs.own}/graphs/<key>/` so that every
 * later start opens the graphs by path and reads no checkpoint.
 *
 * An entry holds `<sub-model>/model.onnx` with its weights in the external
 * data file `<sub-model>/weights.bin` (onnxruntime memory-maps it), and a
 * `manifest.json` written last: the key and what it was made from, the
 * model's config, and every file's size, mtime and sha256 (hashed once, while
 * it was written). Entries are written in a staging folder and renamed into
 * place, so a half-written entry is never visible.
 *
 * The key is the sha256 of what the graphs depend on: the checkpoint's
 * content hash, its decoded config, the graph builder's version and the
 * dtype. Graphs do not
 * depend on the execution provider: onnxruntime places and optimises them
 * when a session opens.
 *
 * A lookup is O(files): sizes and mtimes against the manifest. A mismatch
 * makes the entry invalid (removed and rebuilt by the caller); `verify`
 * re-hashes every byte, on demand.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option, Path, Schema, type Scope } from "effect"
import { createHash } from "node:crypto"
import { sha256File } from "../hub/Checksum.ts"
import type { BuiltModel } from "../onnx/graph.ts"
import type { BarkConfig } from "./config.ts"
import type { Dtype } from "./dtype.ts"
import { SUB_MODELS, type SubModel } from "./models.ts"

/**
 * Version of the graph builders (src/bark/gpt/graph.ts, src/bark/codec/graph.ts,
 * src/onnx/graph.ts) and of the entry layout. Bump it whenever a change
 * alters what they emit: every cached graph is then rebuilt.
 */
export const GRAPH_BUILDER_VERSION = "9"

/** What a cache entry depends on. */
export interface GraphKeyInputs {
  /** sha256 of the checkpoint file's bytes. */
  readonly checkpointSha256: string
  /** The decoded config.json: the same weights under another config make other graphs. */
  readonly config: BarkConfig
  /** The weight type the graphs were made with (../dtype.ts). */
  readonly dtype: Dtype
  readonly builderVersion: string
}

export const graphKey = (inputs: GraphKeyInputs): string =>
  createHash("sha256").update(JSON.stringify(canonical(inputs))).digest("hex")

/** `inputs` with keys sorted at every level, so the key does not depend on property order. */
const canonical = (value: unknown): unknown =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
    : value

const FileEntry = Schema.Struct({ path: Schema.String, bytes: Schema.Number, mtimeMs: Schema.Number, sha256: Schema.String })
export type FileEntry = typeof FileEntry.Type

export const Manifest = Schema.Struct({
  format: Schema.Literal(2),
  key: Schema.String,
  inputs: Schema.Unknown,
  /** The model's decoded config.json, so opening an entry needs nothing else. */
  config: Schema.Unknown,
  files: Schema.Array(FileEntry),
  createdAt: Schema.String
})
export type Manifest = typeof Manifest.Type

export class GraphCacheError extends Schema.TaggedError<GraphCacheError>()("GraphCacheError", {
  message: Schema.String,
  remediation: Schema.String
}) {}

/** A usable entry: the path of each sub-model's graph, the model's config, the total size on disk. */
export interface Entry {
  readonly key: string
  readonly dir: string
  readonly graphs: Readonly<Record<SubModel, string>>
  readonly config: BarkConfig
  readonly bytes: number
}

export type Lookup =
  | { readonly _tag: "Hit"; readonly entry: Entry }
  | { readonly _tag: "Miss" }
  /** An entry exists but cannot be trusted (and was removed). */
  | { readonly _tag: "Invalid"; readonly reason: string }

/** An entry being written; `commit` makes it visible. Removed with the scope unless committed. */
export interface Staging {
  /** Writes a built graph as `<model>/model.onnx` and `<model>/<external files>`, hashing as it writes. */
  readonly write: (model: SubModel, built: BuiltModel) => Effect.Effect<void, GraphCacheError>
  /** Writes the manifest and renames the folder into place. */
  readonly commit: (config: BarkConfig) => Effect.Effect<Entry, GraphCacheError>
}

const MANIFEST = "manifest.json"
const MODEL_FILE = "model.onnx"

const graphPath = (model: SubModel) => `${model}/${MODEL_FILE}`

const describe = (e: unknown) => (e instanceof Error || (typeof e === "object" && e !== null && "message" in e)
  ? String((e as { message: unknown }).message)
  : String(e))

/** The graph cache rooted at `root` (normally `{CacheDirs.own}/graphs`). */
export const make = (root: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const entryDir = (key: string) => path.join(root, key)
    const writeError = (what: string) => (e: unknown) =>
      new GraphCacheError({
        message: `could not ${what} in the graph cache ${root}: ${describe(e)}`,
        remediation: "check free space and permissions under BARK_CACHE_DIR"
      })

    const readManifest = (dir: string) =>
      fs.readFileString(path.join(dir, MANIFEST)).pipe(
        Effect.flatMap(Schema.decodeUnknownEffect(Schema.fromJsonString(Manifest))),
        Effect.mapError((e) => `unreadable manifest: ${describe(e)}`)
      )

    const statOf = (file: string) =>
      fs.stat(file).pipe(
        Effect.map((s) => ({ bytes: Number(s.size), mtimeMs: Option.match(s.mtime, { onNone: () => 0, onSome: (d) => d.getTime() }) })),
        Effect.option
      )

    /** Why the entry in `dir` cannot be trusted, or undefined. `hashes` re-reads every byte. */
    const check = (dir: string, key: string, manifest: Manifest, hashes: boolean) =>
      Effect.gen(function*() {
        if (manifest.key !== key) return `the manifest names key ${manifest.key}`
        for (const model of SUB_MODELS) {
          if (!manifest.files.some((f) => f.path === graphPath(model))) return `the manifest does not list ${graphPath(model)}`
        }
        for (const file of manifest.files) {
          const full = path.join(dir, file.path)
          if (path.relative(dir, full).startsWith("..") || path.isAbsolute(file.path)) {
            return `the manifest names a file outside the entry: ${file.path}`
          }
          const stat = yield* statOf(full)
          if (Option.isNone(stat)) return `${file.path} is missing`
          if (stat.value.bytes !== file.bytes) return `${file.path} has ${stat.value.bytes} bytes, the manifest says ${file.bytes}`
          if (stat.value.mtimeMs !== file.mtimeMs) return `${file.path} was modified after the entry was written`
          if (hashes) {
            const sha = yield* sha256File(full).pipe(Effect.provideService(FileSystem.FileSystem, fs), Effect.orElseSucceed(() => "unreadable"))
            if (sha !== file.sha256) return `${file.path} does not match its sha256`
          }
        }
        return undefined
      })

    const removeEntry = (dir: string) => fs.remove(dir, { recursive: true, force: true }).pipe(Effect.ignore)

    const entryOf = (key: string, dir: string, manifest: Manifest): Entry => ({
      key,
      dir,
      graphs: Object.fromEntries(SUB_MODELS.map((m) => [m, path.join(dir, graphPath(m))])) as Record<SubModel, string>,
      config: manifest.config as BarkConfig,
      bytes: manifest.files.reduce((n, f) => n + f.bytes, 0)
    })

    /**
     * Looks `key` up: sizes and mtimes only, unless `verify` (every byte
     * re-hashed). An entry that does not check out is removed and reported `Invalid`.
     */
    const lookup = (key: string, options: { readonly verify?: boolean } = {}): Effect.Effect<Lookup> =>
      Effect.gen(function*() {
        const dir = entryDir(key)
        if (!(yield* fs.exists(path.join(dir, MANIFEST)).pipe(Effect.orElseSucceed(() => false)))) {
          // A folder without a manifest is debris of a crash before the rename: never an entry.
          if (yield* fs.exists(dir).pipe(Effect.orElseSucceed(() => false))) yield* removeEntry(dir)
          return { _tag: "Miss" } as const
        }
        const manifest = yield* Effect.result(readManifest(dir))
        const reason = manifest._tag === "Failure" ? manifest.failure : yield* check(dir, key, manifest.success, options.verify === true)
        if (reason !== undefined || manifest._tag === "Failure") {
          yield* removeEntry(dir)
          return { _tag: "Invalid", reason: reason ?? "unreadable manifest" } as const
        }
        return { _tag: "Hit", entry: entryOf(key, dir, manifest.success) } as const
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
        const hashes = new Map<string, string>()

        const writeFile = (relative: string, parts: ReadonlyArray<Uint8Array>) =>
          Effect.scoped(Effect.gen(function*() {
            const file = yield* fs.open(path.join(dir, relative), { flag: "w" })
            const hash = createHash("sha256")
            for (const part of parts) {
              hash.update(part)
              yield* file.writeAll(part)
            }
            yield* file.sync
            hashes.set(relative, hash.digest("hex"))
          }))

        const write = (model: SubModel, built: BuiltModel) =>
          Effect.gen(function*() {
            for (const file of built.externalData) {
              if (path.basename(file.path) !== file.path || file.path === MODEL_FILE) {
                return yield* new GraphCacheError({
                  message: `the ${model} graph's external data file "${file.path}" cannot be stored in the graph cache`,
                  remediation: "graph builders must name external data files with a plain file name; this is a bug, report it"
                })
              }
            }
            yield* fs.makeDirectory(path.join(dir, model)).pipe(Effect.mapError(writeError("write a graph")))
            for (const file of built.externalData) {
              yield* writeFile(`${model}/${file.path}`, file.parts).pipe(Effect.mapError(writeError("write a graph")))
            }
            yield* writeFile(graphPath(model), [built.model]).pipe(Effect.mapError(writeError("write a graph")))
          })

        const commit = (config: BarkConfig) =>
          Effect.gen(function*() {
            const files: Array<FileEntry> = []
            for (const [relative, sha256] of [...hashes].sort(([a], [b]) => a.localeCompare(b))) {
              const stat = yield* statOf(path.join(dir, relative))
              if (Option.isNone(stat)) return yield* Effect.fail(`${relative} vanished before the commit`)
              files.push({ path: relative, ...stat.value, sha256 })
            }
            const manifest: Manifest = { format: 2, key, inputs, config, files, createdAt: new Date().toISOString() }
            const tmp = path.join(dir, `${MANIFEST}.tmp`)
            yield* fs.writeFileString(tmp, JSON.stringify(manifest, null, 2) + "\n")
            yield* fs.rename(tmp, path.join(dir, MANIFEST))
            const target = entryDir(key)
            yield* removeEntry(target)
            yield* fs.rename(dir, target).pipe(
              // Another process committed the same key first: its entry is as good as ours.
              Effect.catch((e) => Effect.flatMap(fs.exists(path.join(target, MANIFEST)), (ok) => ok ? Effect.void : Effect.fail(e)))
            )
            const committed = yield* readManifest(target)
            return entryOf(key, target, committed)
          }).pipe(Effect.mapError(writeError("commit an entry")))

        return { write, commit } satisfies Staging
      })

    /** Every committed entry's key. */
    const keys = fs.readDirectory(root).pipe(
      Effect.map((names) => names.filter((n) => /^[0-9a-f]{64}$/.test(n)).sort()),
      Effect.orElseSucceed((): ReadonlyArray<string> => [])
    )

    /** Re-hashes every byte of entry `key`; why it cannot be trusted, or undefined. Leaves the entry as it is. */
    const verify = (key: string): Effect.Effect<string | undefined> =>
      Effect.gen(function*() {
        const dir = entryDir(key)
        const manifest = yield* Effect.result(readManifest(dir))
        return manifest._tag === "Failure" ? manifest.failure : yield* check(dir, key, manifest.success, true)
      })

    return { root, lookup, stage, keys, verify, remove: (key: string) => removeEntry(entryDir(key)) }
  })

export type GraphCache = Effect.Success<ReturnType<typeof make>>
