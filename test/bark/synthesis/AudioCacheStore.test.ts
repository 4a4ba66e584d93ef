/**
 * The audio cache's store, on real files in a temporary folder: the key
 * (order-independent, sensitive to every field, none without a seed), exact
 * round trips, entries surviving a restart, least-recently-used eviction,
 * damaged entries detected and removed, atomic writes, and the size limit.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, type FileSystem, Option, type Path } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach } from "vitest"
import * as AudioCache from "../../../src/bark/synthesis/AudioCacheStore.ts"
import type { AudioCacheKey, CachedAudio, KeyFields } from "../../../src/bark/synthesis/AudioCacheStore.ts"
import { makeTempDir } from "../../support/cli.ts"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = makeTempDir("bark-audio-cache-")
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

const FIELDS: KeyFields = {
  model: "suno/bark-small",
  revision: "1dbd7a1621fe0e9d7b1a8b9e0f3c1d0e9e0f2a11",
  dtype: "fp32",
  recipe: "narrate",
  voice: "v2/en_speaker_6",
  text: "The harbour at dawn.",
  seed: 42,
  sampler: "multinomial",
  params: { temperatures: { semantic: 0.7, coarse: 0.7, fine: 0.5 }, topK: null, topP: null, maxSemanticTokens: 768 }
}

const keyOf = (fields: KeyFields): AudioCacheKey => Option.getOrThrow(AudioCache.cacheKey(fields))
const keyFor = (text: string) => keyOf({ ...FIELDS, text })

/** Deterministic samples, with values a lossy format would change: -0, subnormals, tiny and out-of-range ones. */
const samplesOf = (length: number, seed: number) => {
  const out = new Float32Array(length)
  let x = seed
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = (x / 2 ** 32 - 0.5) * 2.5
  }
  out.set([-0, 1e-42, 3.4e38, -1.0000001].slice(0, length))
  return out
}

const audioOf = (seed: number, chunks: ReadonlyArray<number> = [300, 200, 100]): CachedAudio => ({
  samples: samplesOf(chunks.reduce((n, c) => n + c, 0), seed),
  sampleRate: 24_000,
  chunks: chunks.map((samples, i) => ({ text: `Sentence ${i} of ${seed}.`, samples, splitSentence: i === 1 }))
})

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0

/** Every file under `dir`, relative, with forward slashes. */
const filesUnder = (dir: string) =>
  (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as Array<fs.Dirent>)
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .sort()

const hit = (lookup: AudioCache.Lookup) => {
  assert.isTrue(Option.isNone(lookup.problem), Option.match(lookup.problem, { onNone: () => "", onSome: (e) => e.message }))
  return Option.getOrThrow(lookup.audio)
}

const run = <A, E>(effect: Effect.Effect<A, E, FileSystem.FileSystem | Path.Path>) =>
  effect.pipe(Effect.provide(NodeServices.layer))

describe("cacheKey", () => {
  it("is a sha256 that does not depend on the order of the fields, nor of the parameters", () => {
    const key = keyOf(FIELDS)
    assert.isTrue(AudioCache.isAudioCacheKey(key))
    const reordered: KeyFields = {
      params: { maxSemanticTokens: 768, topP: null, topK: null, temperatures: { fine: 0.5, coarse: 0.7, semantic: 0.7 } },
      sampler: "multinomial",
      seed: 42,
      text: "The harbour at dawn.",
      voice: "v2/en_speaker_6",
      recipe: "narrate",
      dtype: "fp32",
      revision: FIELDS.revision,
      model: "suno/bark-small"
    }
    assert.strictEqual(keyOf(reordered), key)
    assert.strictEqual(keyOf({ ...FIELDS }), key)
  })

  it("changes with every field", () => {
    const key = keyOf(FIELDS)
    const changed: ReadonlyArray<KeyFields> = [
      { ...FIELDS, model: "suno/bark" },
      { ...FIELDS, model: "/models/bark-small" },
      { ...FIELDS, revision: "0000000000000000000000000000000000000000" },
      { ...FIELDS, revision: null },
      { ...FIELDS, dtype: "fp16" },
      { ...FIELDS, recipe: "narrate-fast" },
      { ...FIELDS, voice: "v2/en_speaker_1" },
      { ...FIELDS, voice: null },
      { ...FIELDS, text: "The harbour at dusk." },
      { ...FIELDS, text: "The harbour at dawn. " },
      { ...FIELDS, seed: 43 },
      { ...FIELDS, seed: 0 },
      { ...FIELDS, sampler: "argmax" },
      { ...FIELDS, params: { ...FIELDS.params, temperatures: { semantic: 0.8, coarse: 0.7, fine: 0.5 } } },
      { ...FIELDS, params: { ...FIELDS.params, temperatures: { semantic: 0.7, coarse: 0.7, fine: null } } },
      { ...FIELDS, params: { ...FIELDS.params, topK: 50 } },
      { ...FIELDS, params: { ...FIELDS.params, topP: 0.9 } },
      { ...FIELDS, params: { ...FIELDS.params, maxSemanticTokens: "768" } },
      { ...FIELDS, params: { ...FIELDS.params, maxSemanticTokens: 512 } },
      { ...FIELDS, params: { ...FIELDS.params, extra: 1 } },
      { ...FIELDS, params: { temperatures: FIELDS.params["temperatures"]!, topK: null, topP: null } }
    ]
    const keys = changed.map(keyOf)
    for (const [i, k] of keys.entries()) assert.notStrictEqual(k, key, `variant ${i}`)
    assert.strictEqual(new Set(keys).size, keys.length)
  })

  it("gives none without a seed, or with a number JSON cannot hold", () => {
    const { seed: _, ...unseeded } = FIELDS
    assert.isTrue(Option.isNone(AudioCache.cacheKey(unseeded)))
    assert.isTrue(Option.isNone(AudioCache.cacheKey({ ...FIELDS, seed: undefined })))
    assert.isTrue(Option.isNone(AudioCache.cacheKey({ ...FIELDS, params: { topP: Number.NaN } })))
    assert.isTrue(Option.isNone(AudioCache.cacheKey({ ...FIELDS, params: { caps: [1, Number.POSITIVE_INFINITY] } })))
  })

  it("writes canonical JSON: sorted keys, numbers and null kept, undefined members left out", () => {
    assert.strictEqual(AudioCache.canonicalJson({ b: [2, null, { d: 1, c: 0.5 }], a: "x" }), `{"a":"x","b":[2,null,{"c":0.5,"d":1}]}`)
    assert.strictEqual(AudioCache.canonicalJson({ a: 1, b: undefined } as unknown as AudioCache.Json), `{"a":1}`)
  })
})

describe("AudioCache store", () => {
  it.effect("returns what was put, bit for bit, with its chunks", () =>
    run(Effect.gen(function*() {
      const dir = tempDir()
      const cache = yield* AudioCache.make({ dir, maxBytes: AudioCache.megabytes(1) })
      const key = keyOf(FIELDS)
      assert.isTrue(Option.isNone((yield* cache.get(key)).audio))
      const audio = audioOf(1)
      const put = yield* cache.put(key, audio)
      assert.strictEqual(put._tag, "Stored")
      const got = hit(yield* cache.get(key))
      assert.isTrue(sameBits(got.samples, audio.samples))
      assert.isTrue(Object.is(got.samples[0], -0))
      assert.strictEqual(got.sampleRate, 24_000)
      assert.deepStrictEqual(got.chunks, audio.chunks)
      // ab/abcdef….wav, a WAV any player reads
      assert.deepStrictEqual(filesUnder(dir), [`${key.slice(0, 2)}/${key}.wav`])
      const file = fs.readFileSync(cache.entryPath(key))
      assert.strictEqual(file.subarray(0, 4).toString("latin1"), "RIFF")
      assert.deepStrictEqual(yield* cache.stats, { entries: 1, bytes: file.length })
    })))

  it.effect("still hits after a restart: a new store over the same folder sees the old entries", () =>
    run(Effect.gen(function*() {
      const dir = tempDir()
      const first = yield* AudioCache.make({ dir, maxBytes: AudioCache.megabytes(1) })
      yield* first.put(keyFor("one"), audioOf(1))
      yield* first.put(keyFor("two"), audioOf(2))
      const before = yield* first.stats
      const second = yield* AudioCache.make({ dir, maxBytes: AudioCache.megabytes(1) })
      assert.deepStrictEqual(yield* second.stats, before)
      assert.strictEqual(before.entries, 2)
      assert.isTrue(sameBits(hit(yield* second.get(keyFor("two"))).samples, audioOf(2).samples))
    })))

  it.effect("evicts the least recently used entries first; a read counts as a use, across a restart too", () =>
    run(Effect.gen(function*() {
      const dir = tempDir()
      const probe = yield* AudioCache.make({ dir: tempDir(), maxBytes: AudioCache.megabytes(1) })
      const size = (yield* probe.put(keyFor("a"), audioOf(1))).bytes
      // room for exactly three entries (same sample count and text lengths: same size)
      const cache = yield* AudioCache.make({ dir, maxBytes: 3 * size })
      const [a, b, c, d, e] = ["a", "b", "c", "d", "e"].map(keyFor) as [AudioCacheKey, AudioCacheKey, AudioCacheKey, AudioCacheKey, AudioCacheKey]
      for (const [i, key] of [a, b, c].entries()) assert.deepStrictEqual(yield* cache.put(key, audioOf(i)), { _tag: "Stored", bytes: size, evicted: 0 })
      hit(yield* cache.get(a)) // a is now more recent than b and c
      assert.deepStrictEqual(yield* cache.put(d, audioOf(3)), { _tag: "Stored", bytes: size, evicted: 1 })
      assert.isTrue(Option.isNone((yield* cache.get(b)).audio), "b, the least recently used, went first")
      assert.deepStrictEqual(yield* cache.stats, { entries: 3, bytes: 3 * size })

      // a restarted store knows that c is now the oldest
      const restarted = yield* AudioCache.make({ dir, maxBytes: 3 * size })
      yield* restarted.put(e, audioOf(4))
      assert.isTrue(Option.isNone((yield* restarted.get(c)).audio), "c went next")
      for (const key of [a, d, e]) hit(yield* restarted.get(key))
      assert.deepStrictEqual(yield* restarted.stats, { entries: 3, bytes: 3 * size })
    })))

  it.effect("does not store an entry larger than the whole limit", () =>
    run(Effect.gen(function*() {
      const dir = tempDir()
      const cache = yield* AudioCache.make({ dir, maxBytes: 4_000 })
      const small = yield* cache.put(keyFor("small"), audioOf(1, [100, 100]))
      assert.strictEqual(small._tag, "Stored")
      const big = yield* cache.put(keyFor("big"), audioOf(2, [1_000, 1_000]))
      assert.strictEqual(big._tag, "TooLarge")
      assert.isAbove(big.bytes, 4_000)
      assert.isTrue(Option.isNone((yield* cache.get(keyFor("big"))).audio))
      // and nothing was evicted for it
      hit(yield* cache.get(keyFor("small")))
      assert.deepStrictEqual(filesUnder(dir), [`${keyFor("small").slice(0, 2)}/${keyFor("small")}.wav`])
    })))

  const damaged = (name: string, damage: (bytes: Buffer) => Buffer) =>
    it.effect(`treats a ${name} entry as a miss, removes it, and stores the next put`, () =>
      run(Effect.gen(function*() {
        const dir = tempDir()
        const cache = yield* AudioCache.make({ dir, maxBytes: AudioCache.megabytes(1) })
        const key = keyOf(FIELDS)
        const audio = audioOf(7)
        yield* cache.put(key, audio)
        const file = cache.entryPath(key)
        fs.writeFileSync(file, damage(fs.readFileSync(file)))

        const lookup = yield* cache.get(key)
        assert.isTrue(Option.isNone(lookup.audio))
        const problem = Option.getOrThrow(lookup.problem)
        assert.strictEqual(problem.reason, "corrupt")
        assert.include(problem.message, "was removed")
        assert.isFalse(fs.existsSync(file))

        assert.strictEqual((yield* cache.put(key, audio))._tag, "Stored")
        assert.isTrue(sameBits(hit(yield* cache.get(key)).samples, audio.samples))
      })))

  damaged("truncated", (bytes) => bytes.subarray(0, bytes.length - 100))
  damaged("truncated-to-the-WAV", (bytes) => bytes.subarray(0, 58 + 4 * 600))
  damaged("bit-flipped (sample data)", (bytes) => {
    bytes[1_000]! ^= 0x01
    return bytes
  })
  damaged("bit-flipped (metadata)", (bytes) => {
    bytes[bytes.length - 5]! ^= 0x20
    return bytes
  })
  damaged("bit-flipped (header)", (bytes) => {
    bytes[24]! ^= 0x80 // the sample rate
    return bytes
  })
  damaged("emptied", () => Buffer.alloc(0))

  it.effect("reports an unreadable entry as a miss with the error, without crashing", () =>
    run(Effect.gen(function*() {
      const dir = tempDir()
      const cache = yield* AudioCache.make({ dir, maxBytes: AudioCache.megabytes(1) })
      const key = keyOf(FIELDS)
      fs.mkdirSync(cache.entryPath(key), { recursive: true }) // a folder where the file should be: reading fails
      const lookup = yield* cache.get(key)
      assert.isTrue(Option.isNone(lookup.audio))
      assert.strictEqual(Option.getOrThrow(lookup.problem).reason, "unreadable")
      assert.isNotEmpty(Option.getOrThrow(lookup.problem).remediation)
    })))

  it.effect("leaves no temporary files, also with concurrent puts of the same key", () =>
    run(Effect.gen(function*() {
      const dir = tempDir()
      const cache = yield* AudioCache.make({ dir, maxBytes: AudioCache.megabytes(1) })
      const key = keyOf(FIELDS)
      const audio = audioOf(3)
      const results = yield* Effect.all(
        [...Array.from({ length: 4 }, () => cache.put(key, audio)), cache.put(keyFor("other"), audioOf(4))],
        { concurrency: "unbounded" }
      )
      for (const r of results) assert.strictEqual(r._tag, "Stored")
      // a second store over the same folder writing the same key at the same time
      const twin = yield* AudioCache.make({ dir, maxBytes: AudioCache.megabytes(1) })
      yield* Effect.all([cache.put(key, audio), twin.put(key, audio)], { concurrency: "unbounded" })
      assert.isTrue(sameBits(hit(yield* cache.get(key)).samples, audio.samples))
      const files = filesUnder(dir)
      assert.deepStrictEqual(files, [`${key.slice(0, 2)}/${key}.wav`, `${keyFor("other").slice(0, 2)}/${keyFor("other")}.wav`].sort())
    })))

  it.effect("sweeps temporary files a crash left behind, and never touches files that are not entries", () =>
    run(Effect.gen(function*() {
      const dir = tempDir()
      const key = keyOf(FIELDS)
      const shard = path.join(dir, key.slice(0, 2))
      fs.mkdirSync(shard, { recursive: true })
      const stale = path.join(shard, `.${key}.wav.123.1700000000000.tmp`)
      const fresh = path.join(shard, `.${key}.wav.124.${Date.now()}.tmp`)
      const foreign = [path.join(dir, "notes.txt"), path.join(shard, "notes.wav"), path.join(shard, `${"f".repeat(64)}.wav`)]
      for (const file of [stale, fresh, ...foreign]) fs.writeFileSync(file, "x")
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
      fs.utimesSync(stale, twoHoursAgo, twoHoursAgo)

      const cache = yield* AudioCache.make({ dir, maxBytes: AudioCache.megabytes(1) })
      assert.deepStrictEqual(yield* cache.stats, { entries: 0, bytes: 0 })
      yield* cache.put(keyFor("y"), audioOf(1))
      assert.strictEqual((yield* cache.stats).entries, 1)
      assert.isFalse(fs.existsSync(stale))
      for (const file of [fresh, ...foreign]) assert.isTrue(fs.existsSync(file), file)
    })))

  it.effect("rejects audio whose chunks do not add up to its samples, and a size limit that is not one", () =>
    run(Effect.gen(function*() {
      const cache = yield* AudioCache.make({ dir: tempDir(), maxBytes: AudioCache.megabytes(1) })
      const error = yield* Effect.flip(cache.put(keyOf(FIELDS), { ...audioOf(1), chunks: [{ text: "short", samples: 10, splitSentence: false }] }))
      assert.strictEqual(error.reason, "invalid-entry")
      assert.include(error.message, "10 samples")
      const options = yield* Effect.flip(AudioCache.make({ dir: tempDir(), maxBytes: Number.NaN }))
      assert.strictEqual(options.reason, "invalid-options")
      assert.include(options.remediation, "BARK_AUDIO_CACHE_MB")
    })))
})
