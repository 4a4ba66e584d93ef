/**
 * The audio cache: finished syntheses stored on disk under the request that
 * made them, so that the same request is answered from the file instead of
 * being generated again. This module is the store; a synthesis stage puts it
 * in front of generation.
 *
 * **Key.** An entry is named by `cacheKey(fields)`: the sha256 (hex) of a
 * canonical JSON (keys sorted at every level, numbers and null kept) of
 * everything that decides the samples, so a different request can never read
 * another's audio:
 *
 * - `model`: the hub repo id or the model directory: other weights, other voice.
 * - `revision`: the commit the weights came from: a repo id alone moves when
 *   the repo is updated.
 * - `dtype`: fp16 / int8 weights sample other tokens than fp32.
 * - `recipe`: the synthesis recipe's name: recipes chunk, batch and post-process
 *   differently.
 * - `voice`: the history prompt (null: none).
 * - `text`: after normalisation, i.e. what the model is fed; the caller normalises.
 * - `seed` and `sampler`: with them the run is reproducible. A request without
 *   a seed draws a random one, so it is never cached: `cacheKey` then gives
 *   `Option.none()`, and the caller has to handle that.
 * - `params`: every other sampling parameter (temperatures, top-k/p, caps), as JSON.
 *
 * plus `format` (`KEY_FORMAT`), bumped when the key or the entry layout
 * changes so that old entries are no longer found. Fields given in any order
 * give the same key; a non-finite number (NaN, ±Infinity) has no JSON form,
 * so such a request is not cached either.
 *
 * **Layout.** One file per entry, fanned out by the key's first two hex digits:
 *
 * ```
 * {dir}/ab/abcdef….wav    dir: `{ownCache}/audio-cache` by default (`defaultDir`), i.e.
 *                         BARK_OWN_CACHE_DIR or {cache root}/bark-pipeline, then audio-cache
 * ```
 *
 * Each file is a playable mono 32-bit float WAV (src/audio/wav.ts keeps the
 * samples bit for bit) followed by one RIFF chunk of our own, `bkac`: a sha256
 * of the whole file (computed with those 32 bytes zeroed) and a JSON record of
 * the key, the sample rate and the chunks (`{ text, samples, splitSentence }` per long-form
 * chunk, so a hit streams chunk by chunk as the original did). Files are
 * written to a temporary file and renamed into place (`writeAtomic`), so a
 * crash leaves the old entry or none, never half of one; the temporary file
 * a crash leaves behind is swept by the first write after it is an hour old. A read checks the RIFF size and
 * the digest: a truncated or bit-flipped entry is removed and reported as a
 * miss, never returned.
 *
 * **Eviction.** The total size of the entries is kept at or under `maxBytes`
 * (BARK_AUDIO_CACHE_MB × 2^20): after every write, the least recently used
 * entries are removed until it fits. "Used" is read or written; the store
 * records it in the file's mtime (set on every write and every hit), so the
 * directory itself is the index: a new store over the same directory — after
 * a restart, or in another process — sees the old entries, their sizes and
 * their recency. An entry larger than the whole limit is not stored. Files
 * that are not entries (other names) are never touched.
 *
 * **Concurrency.** A process writes (and evicts) one entry at a time, over
 * all its stores: `writeAtomic`'s temporary files are named by process and
 * millisecond. Two processes writing the same key write the same bytes and
 * the last rename wins; a read during an eviction has either opened the
 * whole file (it reads to the end even once unlinked) or finds none.
 *
 * @since 0.5.0
 */
import { Effect, FileSystem, Option, Path, Result, Schema, Semaphore } from "effect"
import type { Brand, PlatformError } from "effect"
import { createHash } from "node:crypto"
import { decodeWav, encodeWav } from "../../audio/wav.ts"
import { writeAtomic } from "../../files/writeAtomic.ts"

// ---------------------------------------------------------------------------
// The key

/** A JSON value: what a sampling parameter may be. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** Everything that decides a synthesis's samples (see the module comment for why each is here). */
export interface KeyFields {
  /** Hub repo id (`suno/bark-small`) or the model directory. */
  readonly model: string
  /** The commit the weights came from; null where there is none (a local directory). */
  readonly revision: string | null
  /** The weight type (`fp32`, `fp16`, `int8`, …). */
  readonly dtype: string
  /** The synthesis recipe's name. */
  readonly recipe: string
  /** The voice (history prompt) name; null for none. */
  readonly voice: string | null
  /** The text after normalisation: what the model is fed. */
  readonly text: string
  /** The sampler's seed; absent: a random one is drawn, so the request is not cacheable. */
  readonly seed?: number | undefined
  /** The sampler (`multinomial`, `argmax`). */
  readonly sampler: string
  /** Every other sampling parameter: temperatures, top-k / top-p, length caps, … */
  readonly params: { readonly [name: string]: Json }
}

/** A cache key: 64 lower-case hex digits, made by `cacheKey`. */
export type AudioCacheKey = Brand.Branded<string, "AudioCacheKey">

/** Version of the key and of the entry layout; bump it to orphan every entry. */
export const KEY_FORMAT = 1

const KEY = /^[0-9a-f]{64}$/

export const isAudioCacheKey = (s: string): s is AudioCacheKey => KEY.test(s)

/**
 * `value` as JSON with object keys sorted at every level; undefined where it
 * holds something JSON cannot say exactly (NaN, ±Infinity, undefined in an
 * array, functions, bigints). Object members that are undefined are left out,
 * as JSON.stringify does: an absent parameter and an undefined one are the same.
 */
export const canonicalJson = (value: Json): string | undefined => {
  const v: unknown = value
  if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v)
  if (typeof v === "number") return Number.isFinite(v) ? JSON.stringify(v) : undefined
  if (typeof v !== "object") return undefined
  const parts: Array<string> = []
  if (Array.isArray(v)) {
    for (const item of v as ReadonlyArray<Json>) {
      const text = canonicalJson(item)
      if (text === undefined) return undefined
      parts.push(text)
    }
    return `[${parts.join(",")}]`
  }
  const record = v as { readonly [key: string]: Json | undefined }
  for (const name of Object.keys(record).sort()) {
    const member = record[name]
    if (member === undefined) continue
    const text = canonicalJson(member)
    if (text === undefined) return undefined
    parts.push(`${JSON.stringify(name)}:${text}`)
  }
  return `{${parts.join(",")}}`
}

/**
 * The key of a request, or none when it must not be cached: no seed (a random
 * one would be drawn), or a value with no exact JSON form.
 */
export const cacheKey = (fields: KeyFields): Option.Option<AudioCacheKey> => {
  if (fields.seed === undefined) return Option.none()
  // Every field of KeyFields, by name: a field added there and not here fails to compile.
  const hashed: { readonly [K in keyof Required<KeyFields>]: Json } & { readonly format: number } = {
    format: KEY_FORMAT,
    model: fields.model,
    revision: fields.revision,
    dtype: fields.dtype,
    recipe: fields.recipe,
    voice: fields.voice,
    text: fields.text,
    seed: fields.seed,
    sampler: fields.sampler,
    params: fields.params
  }
  const text = canonicalJson(hashed)
  if (text === undefined) return Option.none()
  return Option.some(createHash("sha256").update(text, "utf8").digest("hex") as AudioCacheKey)
}

// ---------------------------------------------------------------------------
// Entries

/** One long-form chunk of an entry: its text and how many samples it has. */
export interface ChunkSpan {
  readonly text: string
  readonly samples: number
  /** The chunk is part of a sentence too long for one generation (see src/bark/text.ts). */
  readonly splitSentence: boolean
}

/** What an entry holds: mono samples, their rate, and the chunks they are made of, in order. */
export interface CachedAudio {
  readonly samples: Float32Array
  readonly sampleRate: number
  /** The chunks' sample counts add up to `samples.length`. */
  readonly chunks: ReadonlyArray<ChunkSpan>
}

export const AudioCacheErrorReason = Schema.Literals([
  "invalid-options",
  "invalid-entry",
  "unreadable",
  "corrupt",
  "touch",
  "write",
  "evict",
  "scan"
])
export type AudioCacheErrorReason = typeof AudioCacheErrorReason.Type

export class AudioCacheError extends Schema.TaggedError<AudioCacheError>()("AudioCacheError", {
  reason: AudioCacheErrorReason,
  message: Schema.String,
  remediation: Schema.String,
  /** The entry's file, when the error concerns one. */
  path: Schema.optionalKey(Schema.String)
}) {}

/** The id of the entry chunk that follows the WAV data. */
const CHUNK_ID = "bkac"
const DIGEST_BYTES = 32

const EntryMeta = Schema.Struct({
  format: Schema.Literal(KEY_FORMAT),
  key: Schema.String,
  sampleRate: Schema.Number,
  chunks: Schema.Array(Schema.Struct({ text: Schema.String, samples: Schema.Number, splitSentence: Schema.Boolean }))
})
const decodeMeta = Schema.decodeUnknownExit(Schema.fromJsonString(EntryMeta))

/** sha256 of `bytes` with `bytes[at, at + 32)` read as zeros. */
const digestWithHole = (bytes: Uint8Array, at: number): Uint8Array =>
  createHash("sha256")
    .update(bytes.subarray(0, at))
    .update(new Uint8Array(DIGEST_BYTES))
    .update(bytes.subarray(at + DIGEST_BYTES))
    .digest()

const setAscii = (bytes: Uint8Array, at: number, text: string) => {
  for (let i = 0; i < text.length; i++) bytes[at + i] = text.charCodeAt(i)
}
const ascii = (bytes: Uint8Array, at: number) => String.fromCharCode(...bytes.subarray(at, at + 4))

/** Why `audio` cannot be stored, if it cannot. */
const entryProblem = (audio: CachedAudio): string | undefined => {
  if (!(Number.isInteger(audio.sampleRate) && audio.sampleRate > 0 && audio.sampleRate < 2 ** 32)) {
    return `the sample rate ${audio.sampleRate} is not a positive 32-bit integer`
  }
  let total = 0
  for (const chunk of audio.chunks) {
    if (!(Number.isInteger(chunk.samples) && chunk.samples >= 0)) return `a chunk has ${chunk.samples} samples`
    total += chunk.samples
  }
  if (total !== audio.samples.length) return `the chunks hold ${total} samples but the audio has ${audio.samples.length}`
  return undefined
}

/** The entry file: the WAV, then the `bkac` chunk (digest + metadata), the RIFF size covering both. */
const encodeEntry = (key: AudioCacheKey, audio: CachedAudio): Uint8Array => {
  const wav = encodeWav(audio.samples, audio.sampleRate, "float32")
  const meta = JSON.stringify({ format: KEY_FORMAT, key, sampleRate: audio.sampleRate, chunks: audio.chunks.map((c) => ({ text: c.text, samples: c.samples, splitSentence: c.splitSentence })) })
  let json = new TextEncoder().encode(meta)
  if (json.length % 2 === 1) json = new TextEncoder().encode(`${meta} `) // RIFF chunks have even sizes
  const bodyBytes = DIGEST_BYTES + json.length
  const out = new Uint8Array(wav.length + 8 + bodyBytes)
  out.set(wav)
  const view = new DataView(out.buffer)
  if (out.length - 8 > 0xffff_ffff) throw new RangeError(`${audio.samples.length} samples do not fit in a WAV file`)
  view.setUint32(4, out.length - 8, true)
  setAscii(out, wav.length, CHUNK_ID)
  view.setUint32(wav.length + 4, bodyBytes, true)
  out.set(json, wav.length + 8 + DIGEST_BYTES)
  out.set(digestWithHole(out, wav.length + 8), wav.length + 8)
  return out
}

/** The entry's audio, or why the bytes are not a whole, intact entry for `key`. */
const decodeEntry = (bytes: Uint8Array, key: AudioCacheKey): Effect.Effect<CachedAudio, string> =>
  Effect.gen(function*() {
    if (bytes.length < 12 || ascii(bytes, 0) !== "RIFF" || ascii(bytes, 8) !== "WAVE") return yield* Effect.fail("no RIFF/WAVE header")
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const riff = view.getUint32(4, true)
    if (riff + 8 !== bytes.length) return yield* Effect.fail(`the header says ${riff + 8} bytes, the file has ${bytes.length} (truncated?)`)
    let at = 12
    let body: number | undefined
    let size = 0
    while (at + 8 <= bytes.length) {
      size = view.getUint32(at + 4, true)
      if (size > bytes.length - at - 8) return yield* Effect.fail(`the "${ascii(bytes, at)}" chunk runs past the end of the file`)
      if (ascii(bytes, at) === CHUNK_ID) {
        body = at + 8
        break
      }
      at += 8 + size + (size % 2)
    }
    if (body === undefined || size < DIGEST_BYTES) return yield* Effect.fail(`no "${CHUNK_ID}" chunk`)
    const stored = bytes.subarray(body, body + DIGEST_BYTES)
    if (Buffer.compare(stored, digestWithHole(bytes, body)) !== 0) return yield* Effect.fail("the sha256 does not match the contents")
    const metaExit = decodeMeta(new TextDecoder().decode(bytes.subarray(body + DIGEST_BYTES, body + size)))
    if (metaExit._tag === "Failure") return yield* Effect.fail("its metadata is not readable")
    const meta = metaExit.value
    if (meta.key !== key) return yield* Effect.fail(`it holds the entry ${meta.key}`)
    const wav = yield* decodeWav(bytes).pipe(Effect.mapError((e) => e.message))
    const total = meta.chunks.reduce((n, c) => n + c.samples, 0)
    if (wav.channels !== 1 || wav.format !== "float32" || wav.sampleRate !== meta.sampleRate || wav.samples.length !== total) {
      return yield* Effect.fail("its samples do not match its metadata")
    }
    return { samples: wav.samples, sampleRate: wav.sampleRate, chunks: meta.chunks }
  })

// ---------------------------------------------------------------------------
// The store

export interface AudioCacheOptions {
  /** The cache folder (created on the first write). */
  readonly dir: string
  /** The most bytes the entries may take together (BARK_AUDIO_CACHE_MB × 2^20, see `megabytes`). */
  readonly maxBytes: number
}

/** What a `get` found. `problem` says why an entry that was there could not be used, for the caller to warn. */
export interface Lookup {
  /** The stored audio; none on a miss. */
  readonly audio: Option.Option<CachedAudio>
  /**
   * None on a plain hit or miss. With a miss: the entry was unreadable, or
   * corrupt (then it has been removed). With a hit: its recency could not be
   * recorded, so it may be evicted early.
   */
  readonly problem: Option.Option<AudioCacheError>
}

export type PutResult =
  /** Written; `evicted` older entries were removed to make room. */
  | { readonly _tag: "Stored"; readonly bytes: number; readonly evicted: number }
  /** Not written: the entry alone is larger than the whole limit. */
  | { readonly _tag: "TooLarge"; readonly bytes: number }

export interface CacheStats {
  readonly entries: number
  readonly bytes: number
}

export interface AudioCache {
  readonly dir: string
  readonly maxBytes: number
  /** The file an entry lives in (whether or not it is there). */
  readonly entryPath: (key: AudioCacheKey) => string
  /** The entry for `key`, marked as used. Never fails: every failure is a miss with a `problem`. */
  readonly get: (key: AudioCacheKey) => Effect.Effect<Lookup>
  /** Stores `audio` under `key` atomically, then evicts least recently used entries down to the limit. */
  readonly put: (key: AudioCacheKey, audio: CachedAudio) => Effect.Effect<PutResult, AudioCacheError>
  /** The entries on disk now. */
  readonly stats: Effect.Effect<CacheStats, AudioCacheError>
}

/** `mb` megabytes (2^20 bytes, as the other `_MB` settings), in bytes. */
export const megabytes = (mb: number): number => Math.floor(mb * 2 ** 20)

/** Where the cache lives by default under this project's own cache folder (`ownCache`, src/bark/settings.ts). */
export const defaultDir = (ownCacheDir: string): Effect.Effect<string, never, Path.Path> =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    return path.join(ownCacheDir, "audio-cache")
  })

/** A temporary file `writeAtomic` leaves behind only when the process dies mid-write. */
const TEMPORARY = /^\.[0-9a-f]{64}\.wav\.\d+\.\d+\.tmp$/
const STALE_TEMPORARY_MS = 60 * 60 * 1000
const SHARD = /^[0-9a-f]{2}$/

/**
 * Times of use, strictly increasing within the process (two stores over one
 * folder included), so that uses in the same millisecond keep their order.
 * Wall time, not Effect's Clock: recency is compared across processes and
 * restarts through the files' mtimes.
 */
let lastUse = 0
const nextUse = (): Date => {
  lastUse = Math.max(Date.now(), lastUse + 1)
  return new Date(lastUse)
}

/**
 * One write at a time in the process, over every store: `writeAtomic` names
 * its temporary file by process and millisecond, so two writes of one key in
 * the same millisecond would share it.
 */
const writes = Semaphore.makeUnsafe(1)

interface OnDisk {
  readonly key: string
  readonly file: string
  readonly bytes: number
  readonly usedAt: number
}

const isNotFound = (error: PlatformError.PlatformError) => error.reason._tag === "NotFound"

export const make = Effect.fn("AudioCache.make")(function*(
  options: AudioCacheOptions
): Effect.fn.Return<AudioCache, AudioCacheError, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const { maxBytes } = options
  if (!(Number.isFinite(maxBytes) && maxBytes >= 0)) {
    return yield* new AudioCacheError({
      reason: "invalid-options",
      message: `the audio cache's size limit must be a non-negative number of bytes, got ${maxBytes}`,
      remediation: "Set BARK_AUDIO_CACHE_MB to a number of megabytes (0 stores nothing)."
    })
  }
  const dir = path.resolve(options.dir)
  const entryPath = (key: AudioCacheKey) => path.join(dir, key.slice(0, 2), `${key}.wav`)

  const failure = (reason: AudioCacheErrorReason, message: string, remediation: string, file?: string) =>
    new AudioCacheError({ reason, message, remediation, ...(file === undefined ? {} : { path: file }) })

  /** Lists a folder; a missing one is empty. */
  const list = (folder: string) =>
    fs.readDirectory(folder).pipe(
      Effect.catchIf(isNotFound, () => Effect.succeed<ReadonlyArray<string>>([])),
      Effect.mapError((e) => failure("scan", `cannot list the audio cache folder ${folder}: ${e.message}`, `Check that ${dir} is readable.`))
    )

  /** Every entry on disk with its size and last use; with `sweep`, removes stale temporary files too. */
  const scan = (sweep: boolean) =>
    Effect.gen(function*() {
      const shards = (yield* list(dir)).filter((name) => SHARD.test(name))
      const found = yield* Effect.forEach(shards, (shard) =>
        Effect.flatMap(list(path.join(dir, shard)), (names) =>
          Effect.forEach(names, (name): Effect.Effect<ReadonlyArray<OnDisk>> => {
            const file = path.join(dir, shard, name)
            const isEntry = name.endsWith(".wav") && name.startsWith(shard) && isAudioCacheKey(name.slice(0, -4))
            if (!isEntry && !(sweep && TEMPORARY.test(name))) return Effect.succeed([])
            return fs.stat(file).pipe(
              Effect.flatMap((info): Effect.Effect<ReadonlyArray<OnDisk>> => {
                const usedAt = Option.match(info.mtime, { onNone: () => 0, onSome: (d) => d.getTime() })
                if (info.type !== "File") return Effect.succeed([])
                if (isEntry) return Effect.succeed([{ key: name.slice(0, -4), file, bytes: Number(info.size), usedAt }])
                if (Date.now() - usedAt < STALE_TEMPORARY_MS) return Effect.succeed([])
                return fs.remove(file, { force: true }).pipe(Effect.ignore, Effect.as([]))
              }),
              // gone since the listing (another process evicted it), or unreadable: not ours to count
              Effect.orElseSucceed(() => [])
            )
          }, { concurrency: 16 })), { concurrency: 4 })
      return found.flat(2)
    })

  const stats = Effect.map(scan(false), (entries) => ({
    entries: entries.length,
    bytes: entries.reduce((n, e) => n + e.bytes, 0)
  }))

  /** Removes least recently used entries (never `keep`) until the total fits; returns how many went. */
  const evict = (keep: string) =>
    Effect.gen(function*() {
      const entries = [...(yield* scan(true))].sort((a, b) => a.usedAt - b.usedAt || (a.key < b.key ? -1 : 1))
      let total = entries.reduce((n, e) => n + e.bytes, 0)
      let evicted = 0
      for (const entry of entries) {
        if (total <= maxBytes) break
        if (entry.key === keep) continue
        yield* fs.remove(entry.file, { force: true }).pipe(
          Effect.mapError((e) =>
            failure("evict", `cannot remove the audio cache entry ${entry.file}: ${e.message}`, `Check the permissions of ${dir}, or remove old entries by hand.`, entry.file)
          )
        )
        total -= entry.bytes
        evicted += 1
      }
      return evicted
    })

  const put = Effect.fn("AudioCache.put")(function*(
    key: AudioCacheKey,
    audio: CachedAudio
  ): Effect.fn.Return<PutResult, AudioCacheError> {
    const invalid = isAudioCacheKey(key) ? entryProblem(audio) : `"${key}" is not a cache key`
    const encoded = invalid !== undefined
      ? Result.fail(invalid)
      : Result.try({ try: () => encodeEntry(key, audio), catch: (e) => e instanceof Error ? e.message : String(e) })
    if (Result.isFailure(encoded)) {
      return yield* failure(
        "invalid-entry",
        `cannot cache this audio: ${encoded.failure}`,
        "This is a bug in the caller: make the key with cacheKey and give chunk sample counts that add up to the samples."
      )
    }
    const bytes = encoded.success
    if (bytes.length > maxBytes) return { _tag: "TooLarge", bytes: bytes.length } as const
    const file = entryPath(key)
    yield* fs.makeDirectory(path.dirname(file), { recursive: true }).pipe(
      Effect.andThen(writeAtomic(file, bytes)),
      Effect.andThen(Effect.suspend(() => {
        const used = nextUse()
        return fs.utimes(file, used, used)
      })),
      Effect.provideService(FileSystem.FileSystem, fs),
      Effect.provideService(Path.Path, path),
      Effect.mapError((e) =>
        failure(
          "write",
          `cannot write the audio cache entry ${file}: ${e.message}`,
          `Check that ${dir} is writable and the disk has free space, or lower BARK_AUDIO_CACHE_MB.`,
          file
        )
      )
    )
    const evicted = yield* evict(key)
    return { _tag: "Stored", bytes: bytes.length, evicted } as const
  }, writes.withPermit)

  const get = Effect.fn("AudioCache.get")(function*(key: AudioCacheKey): Effect.fn.Return<Lookup> {
    if (!isAudioCacheKey(key)) {
      return miss(failure("unreadable", `"${key}" is not a cache key`, "This is a bug in the caller: make the key with cacheKey."))
    }
    const file = entryPath(key)
    const read = yield* Effect.result(fs.readFile(file))
    if (Result.isFailure(read)) {
      if (isNotFound(read.failure)) return { audio: Option.none(), problem: Option.none() }
      return miss(failure("unreadable", `cannot read the audio cache entry ${file}: ${read.failure.message}`, `Check that ${dir} is readable; the audio is generated meanwhile.`, file))
    }
    const decoded = yield* Effect.result(decodeEntry(read.success, key))
    if (Result.isFailure(decoded)) {
      const removed = yield* Effect.result(fs.remove(file, { force: true }))
      const left = Result.isFailure(removed) ? ` and could not be removed (${removed.failure.message})` : " and was removed"
      return miss(failure(
        "corrupt",
        `the audio cache entry ${file} is damaged (${decoded.failure})${left}`,
        "Nothing to do for this request: it is generated again. If it keeps happening, check the disk and the file system under the cache folder.",
        file
      ))
    }
    const used = nextUse()
    const touched = yield* Effect.result(fs.utimes(file, used, used))
    const problem = Result.isFailure(touched) && !isNotFound(touched.failure)
      ? Option.some(failure("touch", `cannot mark the audio cache entry ${file} as used: ${touched.failure.message}`, `Check that ${dir} is writable; until then hits may be evicted early.`, file))
      : Option.none()
    return { audio: Option.some(decoded.success), problem }
  })

  return { dir, maxBytes, entryPath, get, put, stats }
})

const miss = (problem: AudioCacheError): Lookup => ({ audio: Option.none(), problem: Option.some(problem) })
