/**
 * The content hash that keys a checkpoint's graph-cache entry, computed at
 * most once per file: a hub file's sha256 is its LFS object id (known from
 * the download); a local file's is hashed the first time it is seen and
 * remembered under `{CacheDirs.own}/checkpoints/` together with the file's
 * path, size and mtime, so later starts only `stat` it.
 *
 * @since 0.2.0
 */
import { Effect, FileSystem, Option, Path, Schema } from "effect"
import { createHash } from "node:crypto"
import { writeAtomic } from "../files/writeAtomic.ts"
import { sha256File } from "../hub/Checksum.ts"

const Remembered = Schema.Struct({ path: Schema.String, bytes: Schema.Number, mtimeMs: Schema.Number, sha256: Schema.String })

/**
 * sha256 of `file`: `known` when given (the hub's id), else remembered in
 * `dir` while the file's size and mtime are unchanged, else hashed now.
 */
export const checkpointSha256 = Effect.fn("checkpointSha256")(function*(file: string, dir: string, known?: string) {
  if (known !== undefined) return { sha256: known, hashed: false }
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const absolute = path.resolve(file)
  const stat = yield* fs.stat(absolute)
  const current = { path: absolute, bytes: Number(stat.size), mtimeMs: Option.match(stat.mtime, { onNone: () => 0, onSome: (d) => d.getTime() }) }
  const record = path.join(dir, `${createHash("sha256").update(absolute).digest("hex")}.json`)
  const remembered = yield* fs.readFileString(record).pipe(
    Effect.flatMap(Schema.decodeUnknownEffect(Schema.fromJsonString(Remembered))),
    Effect.option
  )
  if (
    Option.isSome(remembered) && remembered.value.path === current.path && remembered.value.bytes === current.bytes &&
    remembered.value.mtimeMs === current.mtimeMs
  ) return { sha256: remembered.value.sha256, hashed: false }
  const sha256 = yield* sha256File(absolute)
  // Remembering is an optimisation: a cache that cannot be written costs a re-hash next time, nothing more.
  yield* fs.makeDirectory(dir, { recursive: true }).pipe(
    Effect.andThen(writeAtomic(record, JSON.stringify({ ...current, sha256 }) + "\n")),
    Effect.ignore
  )
  return { sha256, hashed: true }
})
