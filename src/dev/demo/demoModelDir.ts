/**
 * Random-weight Bark model directories made once and kept in the cache: the
 * offline demo's model and the benchmark's bark-small-sized one. Making one
 * is deterministic (the same options give the same bytes) but slow at
 * bark-small size (tens of seconds), so it is made only when missing or
 * damaged, into a temporary folder renamed into place: a reader sees a
 * complete directory or none.
 *
 * A manifest records the options and every file's size; a directory whose
 * manifest is missing, differs in options or disagrees with the files on
 * disk is made again.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path, Schema } from "effect"
import { makeRandomCheckpoint, type RandomCheckpointOptions } from "../randomCheckpoint.ts"
import { writeBarkModelDir } from "../modelDir.ts"

export class RandomModelDirError extends Schema.TaggedError<RandomModelDirError>()("RandomModelDirError", {
  message: Schema.String,
  remediation: Schema.String
}) {}

export interface RandomModelDir {
  readonly dir: string
  /** Whether this call made it (false: an intact copy was already there). */
  readonly created: boolean
  /** Why it was (re)made, when it was. */
  readonly reason: string | undefined
}

const MANIFEST = "random-model.json"

/** Bump when the layout of what this module writes changes, so older copies are made again. */
const FORMAT = 1

const Manifest = Schema.Struct({
  format: Schema.Number,
  options: Schema.String,
  files: Schema.Record(Schema.String, Schema.Number)
})

/** Relative path → size of every file under `dir` but the manifest. */
const fileSizes = Effect.fnUntraced(function*(dir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const sizes: Record<string, number> = {}
  for (const relative of (yield* fs.readDirectory(dir, { recursive: true })).sort()) {
    const info = yield* fs.stat(path.join(dir, relative))
    if (info.type === "File" && relative !== MANIFEST) sizes[relative] = Number(info.size)
  }
  return sizes
})

/** Why `dir` is not an intact copy for `options`, or undefined when it is. */
const problem = Effect.fnUntraced(function*(dir: string, options: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  if (!(yield* fs.exists(dir))) return "not made yet"
  const manifest = yield* fs.readFileString(path.join(dir, MANIFEST)).pipe(
    Effect.flatMap(Schema.decodeUnknownEffect(Schema.fromJsonString(Manifest))),
    Effect.option
  )
  if (manifest._tag === "None") return `${MANIFEST} is missing or unreadable`
  if (manifest.value.format !== FORMAT || manifest.value.options !== options) return "it was made with other options"
  const expected = manifest.value.files
  const actual = yield* fileSizes(dir)
  for (const [file, size] of Object.entries(expected)) {
    if (actual[file] !== size) return actual[file] === undefined ? `${file} is missing` : `${file} has the wrong size`
  }
  return undefined
})

/**
 * The directory `dir` holding the random checkpoint of `options` (with
 * tokenizer files and two voices, see `writeBarkModelDir`): reused when
 * intact, else made.
 */
export const ensureRandomModelDir = Effect.fn("ensureRandomModelDir")(function*(
  dir: string,
  options: RandomCheckpointOptions
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const key = JSON.stringify(options)
  const reason = yield* problem(dir, key)
  if (reason === undefined) return { dir, created: false, reason: undefined } satisfies RandomModelDir

  const parent = path.dirname(dir)
  const failure = (what: string) => (e: { readonly message: string }) =>
    new RandomModelDirError({
      message: `cannot ${what} the random model directory ${dir}: ${e.message}`,
      remediation: "check that the cache directory is writable and has room (set BARK_CACHE_DIR to move it)"
    })
  yield* fs.makeDirectory(parent, { recursive: true }).pipe(Effect.mapError(failure("create the parent of")))
  const tmp = path.join(parent, `.${path.basename(dir)}.${process.pid}.${Date.now()}.tmp`)
  const aside = `${tmp}.old`
  yield* Effect.gen(function*() {
    yield* writeBarkModelDir(tmp, yield* makeRandomCheckpoint(options))
    const manifest = { format: FORMAT, options: key, files: yield* fileSizes(tmp) }
    yield* fs.writeFileString(path.join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + "\n")
    // A damaged copy is moved aside first: a directory cannot be renamed over a non-empty one.
    if (yield* fs.exists(dir)) yield* fs.rename(dir, aside)
    yield* fs.rename(tmp, dir).pipe(
      // Another process may have put its (identical) copy in place meanwhile; use that one.
      Effect.catch((e) => Effect.flatMap(problem(dir, key), (p) => (p === undefined ? Effect.void : Effect.fail(e))))
    )
  }).pipe(
    Effect.ensuring(Effect.ignore(Effect.all([fs.remove(tmp, { recursive: true, force: true }), fs.remove(aside, { recursive: true, force: true })]))),
    Effect.mapError(failure("make"))
  )
  return { dir, created: true, reason } satisfies RandomModelDir
})
