/**
 * Where finished jobs' audio lives: one file per job, `<id>.<format>`, in
 * BARK_RESULTS_DIR — a shared volume in production, so the replica that
 * answers `GET /v1/jobs/{id}/audio` reads what another machine's worker
 * wrote — and beside it the trace of the job's last attempt,
 * `<id>.trace.json` (`GET /v1/jobs/{id}/trace`). Files are written
 * atomically (temp + rename): a reader finds the whole file or none. Redis
 * holds the jobs' state, never their audio or traces.
 *
 * @since 0.4.0
 */
import { Effect, FileSystem, Path } from "effect"
import type { SpeechFormat } from "../audio/encoders.ts"
import type { TraceDocument } from "../observability/synthesisTrace.ts"
import { writeAtomic } from "../files/writeAtomic.ts"

/** Job ids are generated here (UUIDs); anything else is never a file name. */
export const isJobId = (id: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)

const extension: Readonly<Record<SpeechFormat, string>> = { mp3: "mp3", opus: "ogg", aac: "aac", flac: "flac", wav: "wav", pcm: "pcm" }

/** The file name of a job's audio. */
export const fileName = (id: string, format: SpeechFormat): string => `${id}.${extension[format]}`

/** The file name of a job's trace. */
export const traceFileName = (id: string): string => `${id}.trace.json`

export interface ResultsStore {
  readonly dir: string
  /** The full path of a file in the store. */
  readonly path: (file: string) => string
  /** Writes a job's audio atomically and returns its file name. */
  readonly write: (id: string, format: SpeechFormat, bytes: Uint8Array) => Effect.Effect<string, Error>
  /** Writes the trace of a job's attempt atomically (over the previous attempt's) and returns its file name. */
  readonly writeTrace: (id: string, trace: TraceDocument) => Effect.Effect<string, Error>
  /** A job's trace as stored (JSON), or `undefined` when there is none. */
  readonly readTrace: (id: string) => Effect.Effect<unknown, Error>
  /** Whether the file is there. */
  readonly exists: (file: string) => Effect.Effect<boolean>
  /** Removes a job's audio (a cancelled or expired job); absent files are fine. */
  readonly remove: (file: string) => Effect.Effect<void>
}

export const make = (dir: string): Effect.Effect<ResultsStore, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const root = paths.resolve(dir)
    const path = (file: string) => paths.join(root, paths.basename(file))
    const writeFile = (file: string, bytes: Uint8Array, what: string) =>
      Effect.gen(function*() {
        yield* fs.makeDirectory(root, { recursive: true })
        yield* writeAtomic(path(file), bytes)
        return file
      }).pipe(
        Effect.provideService(FileSystem.FileSystem, fs),
        Effect.provideService(Path.Path, paths),
        Effect.mapError((e) => new Error(`cannot write the job's ${what} under ${root} (BARK_RESULTS_DIR): ${e.message}`))
      )
    return {
      dir: root,
      path,
      write: (id, format, bytes) => writeFile(fileName(id, format), bytes, "audio"),
      writeTrace: (id, trace) => writeFile(traceFileName(id), new TextEncoder().encode(JSON.stringify(trace)), "trace"),
      readTrace: (id) =>
        Effect.gen(function*() {
          const file = path(traceFileName(id))
          if (!(yield* fs.exists(file))) return undefined
          const text = yield* fs.readFileString(file)
          return yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: (e) => new Error(`${file} is not JSON: ${String(e)}`) })
        }).pipe(Effect.mapError((e) => new Error(`cannot read the job's trace under ${root} (BARK_RESULTS_DIR): ${e.message}`))),
      exists: (file) => fs.exists(path(file)).pipe(Effect.orElseSucceed(() => false)),
      remove: (file) => fs.remove(path(file), { force: true }).pipe(Effect.ignore)
    }
  })
