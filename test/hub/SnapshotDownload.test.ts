import { NodeHttpClient, NodeServices } from "@effect/platform-node"
import { assert, describe, expect, layer } from "@effect/vitest"
import { ConfigProvider, Effect, FileSystem, Layer, Option, Path, Redacted } from "effect"
import { createHash } from "node:crypto"
import { barkFiles } from "../../src/hub/barkFiles.ts"
import type { HubSettings } from "../../src/hub/HubConfig.ts"
import type { ProgressEvent } from "../../src/hub/Progress.ts"
import { type SnapshotDownloadOptions, snapshotDownload } from "../../src/hub/SnapshotDownload.ts"
import { type FakeHub, makeFakeHub } from "../support/fakeHub.ts"

const REPO = "acme/bark-tiny"

/** Deterministic pseudo-random bytes, so a corrupted or shifted resume cannot go unnoticed. */
const noise = (size: number, seed: number) => {
  const out = new Uint8Array(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

const WEIGHTS = noise(300_000, 7)
const VOICE = "v2/en_speaker_1"
const FILES = {
  "config.json": JSON.stringify({ model_type: "bark" }),
  "generation_config.json": JSON.stringify({ max_length: 10 }),
  "vocab.txt": "[PAD]\n[UNK]\nhello\n",
  "speaker_embeddings_path.json": JSON.stringify({ repo_or_path: REPO }),
  "pytorch_model.bin": WEIGHTS,
  "speaker_embeddings/v2/en_speaker_1_semantic_prompt.npy": noise(4_000, 1),
  "speaker_embeddings/v2/en_speaker_1_coarse_prompt.npy": noise(6_000, 2),
  "speaker_embeddings/v2/en_speaker_1_fine_prompt.npy": noise(9_000, 3),
  "README.md": "not selected"
}
const LFS = ["pytorch_model.bin"]
const SELECTED = barkFiles([], [VOICE])

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex")
const gitBlobId = (data: Uint8Array) => createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex")
const bytesOf = (value: string | Uint8Array) => typeof value === "string" ? new TextEncoder().encode(value) : value

const settings = (hub: FakeHub, extra: Partial<HubSettings> = {}): HubSettings => ({
  endpoint: hub.url,
  token: Option.none(),
  offline: false,
  ...extra
})

const setup = Effect.gen(function*() {
  const hub = yield* makeFakeHub
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "hub-test-" })
  const repoDir = path.join(root, "hub", "models--acme--bark-tiny")
  const download = (options: Partial<SnapshotDownloadOptions> = {}) =>
    snapshotDownload({
      repo: REPO,
      hubCache: path.join(root, "hub"),
      select: (siblings) => barkFiles(siblings, [VOICE]),
      settings: settings(hub),
      retry: { times: 3, baseDelay: "1 millis", requestTimeout: "5 seconds", idleTimeout: "5 seconds" },
      ...options
    })
  const blobNames = Effect.map(
    fs.readDirectory(path.join(repoDir, "blobs")).pipe(Effect.orElseSucceed((): Array<string> => [])),
    (names) => names.sort()
  )
  return { hub, fs, path, root, repoDir, download, blobNames }
})

const TestLayer = Layer.mergeAll(NodeServices.layer, NodeHttpClient.layerUndici)

layer(TestLayer, { excludeTestServices: true })("snapshotDownload", (it) => {
  it.effect("resolves branches, tags and refs/pr/N to their commits and records them under refs/", () =>
    Effect.gen(function*() {
      const { hub, fs, path, repoDir, download } = yield* setup
      const main = hub.publish(REPO, { files: FILES, lfs: LFS, revisions: ["main", "v1.0"] })
      const pr = hub.publish(REPO, {
        files: { ...FILES, "model.safetensors": noise(1_000, 9) },
        lfs: [...LFS, "model.safetensors"],
        revisions: ["refs/pr/5"]
      })
      for (const [revision, commit] of [["main", main], ["v1.0", main], ["refs/pr/5", pr]] as const) {
        const snapshot = yield* download({ revision })
        assert.strictEqual(snapshot.commit, commit)
        assert.strictEqual(snapshot.dir, path.join(repoDir, "snapshots", commit))
        assert.strictEqual(yield* fs.readFileString(path.join(repoDir, "refs", ...revision.split("/"))), commit)
      }
      const pr5 = yield* download({ revision: "refs/pr/5" })
      assert.include(pr5.files.map((f) => f.path), "model.safetensors")
      assert.notInclude(pr5.files.map((f) => f.path), "pytorch_model.bin")
      assert.isTrue(hub.requests.some((r) => r.path.endsWith("/revision/refs%2Fpr%2F5")))
    }))

  it.effect("marks files the revision lacks in .no_exist, as huggingface_hub does, and only those", () =>
    Effect.gen(function*() {
      const { hub, fs, path, repoDir, download } = yield* setup
      const commit = hub.publish(REPO, { files: FILES, lfs: LFS })
      yield* download({ recordAbsent: ["model.safetensors", "config.json"] })
      const marker = path.join(repoDir, ".no_exist", commit, "model.safetensors")
      assert.strictEqual((yield* fs.stat(marker)).size, 0n)
      assert.isFalse(yield* fs.exists(path.join(repoDir, ".no_exist", commit, "config.json")))
    }))

  it.effect("downloads into the huggingface_hub layout: blobs, relative snapshot symlinks, refs", () =>
    Effect.gen(function*() {
      const { hub, fs, path, repoDir, download, blobNames } = yield* setup
      const commit = hub.publish(REPO, { files: FILES, lfs: LFS })
      const snapshot = yield* download()

      assert.deepStrictEqual(snapshot.files.map((f) => f.path), [...SELECTED])
      assert.isTrue(snapshot.files.every((f) => !f.cached))
      const expectedBytes = SELECTED.reduce((n, f) => n + bytesOf(FILES[f as keyof typeof FILES]).length, 0)
      assert.strictEqual(snapshot.bytesDownloaded, expectedBytes)
      const weights = snapshot.files.find((f) => f.path === "pytorch_model.bin")
      assert.strictEqual(weights?.sha256, sha256(WEIGHTS))
      assert.strictEqual(weights?.bytes, WEIGHTS.length)

      // LFS blobs are named by sha256, the others by git blob id, as huggingface_hub does.
      const expectedBlobs = SELECTED.map((f) => {
        const content = bytesOf(FILES[f as keyof typeof FILES])
        return LFS.includes(f) ? sha256(content) : gitBlobId(content)
      })
      assert.deepStrictEqual(yield* blobNames, [...expectedBlobs].sort())
      for (const file of SELECTED) {
        const link = path.join(snapshot.dir, ...file.split("/"))
        const target = yield* fs.readLink(link)
        assert.isFalse(path.isAbsolute(target))
        assert.match(target, /^(\.\.\/)+blobs\/[0-9a-f]{40,64}$/)
        assert.isTrue(path.resolve(path.dirname(link), target).startsWith(path.join(repoDir, "blobs")))
        assert.deepStrictEqual(yield* fs.readFile(link), bytesOf(FILES[file as keyof typeof FILES]))
      }
      assert.strictEqual(yield* fs.readFileString(path.join(repoDir, "refs", "main")), commit)
      assert.isFalse(yield* fs.exists(path.join(snapshot.dir, "README.md")))
    }))

  it.effect("a second run is a cache hit: only the revision lookup for a branch, nothing at all for a commit", () =>
    Effect.gen(function*() {
      const { hub, download } = yield* setup
      const commit = hub.publish(REPO, { files: FILES, lfs: LFS })
      yield* download()
      hub.clearRequests()

      const again = yield* download()
      assert.isTrue(again.files.every((f) => f.cached))
      assert.strictEqual(again.bytesDownloaded, 0)
      assert.deepStrictEqual(hub.requests.map((r) => r.path), [`/api/models/${REPO}/revision/main`])

      hub.clearRequests()
      const pinned = yield* download({ revision: commit })
      assert.strictEqual(pinned.commit, commit)
      assert.isTrue(pinned.files.every((f) => f.cached))
      assert.lengthOf(hub.requests, 0)
    }))

  it.effect("an interrupted transfer resumes with a Range request and ends byte-identical", () =>
    Effect.gen(function*() {
      const { hub, fs, download } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      hub.cutOnce("pytorch_model.bin", 100_000)
      const snapshot = yield* download()

      const transfers = hub.fileRequests("pytorch_model.bin").filter((r) => r.origin === "cdn")
      assert.lengthOf(transfers, 2)
      assert.isUndefined(transfers[0]?.headers.range)
      assert.strictEqual(transfers[1]?.headers.range, "bytes=100000-")
      assert.deepStrictEqual(yield* fs.readFile(`${snapshot.dir}/pytorch_model.bin`), WEIGHTS)
      assert.strictEqual(snapshot.bytesDownloaded, SELECTED.reduce((n, f) => n + bytesOf(FILES[f as keyof typeof FILES]).length, 0))
    }))

  it.effect("a stalled transfer times out and resumes where it stopped", () =>
    Effect.gen(function*() {
      const { hub, fs, download } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      hub.stallOnce("pytorch_model.bin", 50_000)
      const snapshot = yield* download({ retry: { times: 2, baseDelay: "1 millis", idleTimeout: "300 millis" } })
      const transfers = hub.fileRequests("pytorch_model.bin").filter((r) => r.origin === "cdn")
      assert.isTrue(transfers.some((r) => r.headers.range === "bytes=50000-"))
      assert.deepStrictEqual(yield* fs.readFile(`${snapshot.dir}/pytorch_model.bin`), WEIGHTS)
    }))

  it.effect("downloads at most `concurrency` files at a time", () =>
    Effect.gen(function*() {
      const { hub, download } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      hub.delayTransfers(100)
      yield* download({ concurrency: 2 })
      assert.strictEqual(hub.maxConcurrentTransfers(), 2)
    }))

  it.effect("a partial file left by an earlier run is resumed by the next one", () =>
    Effect.gen(function*() {
      const { hub, fs, path, repoDir, download } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      hub.cutOnce("pytorch_model.bin", 120_000)
      const error = yield* Effect.flip(download({ retry: { times: 0, baseDelay: "1 millis" } }))
      assert.strictEqual(error.reason, "network")
      const part = path.join(repoDir, "blobs", `${sha256(WEIGHTS)}.incomplete`)
      assert.strictEqual(Number((yield* fs.stat(part)).size), 120_000)

      const snapshot = yield* download()
      const transfers = hub.fileRequests("pytorch_model.bin").filter((r) => r.origin === "cdn")
      assert.strictEqual(transfers.at(-1)?.headers.range, "bytes=120000-")
      assert.deepStrictEqual(yield* fs.readFile(`${snapshot.dir}/pytorch_model.bin`), WEIGHTS)
      assert.isFalse(yield* fs.exists(part))
    }))

  it.effect("wrong bytes are fetched once more, then fail with a checksum error leaving nothing behind", () =>
    Effect.gen(function*() {
      const { hub, fs, path, repoDir, download, blobNames } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      hub.corrupt("pytorch_model.bin", 2)
      const error = yield* Effect.flip(download())
      assert.strictEqual(error.reason, "checksum")
      assert.strictEqual(error.file, "pytorch_model.bin")
      assert.match(error.message, /sha256/)
      assert.lengthOf(hub.fileRequests("pytorch_model.bin").filter((r) => r.origin === "cdn"), 2)
      const blobs = yield* blobNames
      assert.isFalse(blobs.some((b) => b.startsWith(sha256(WEIGHTS))), `left behind: ${blobs.join(", ")}`)
      const commit = yield* fs.readFileString(path.join(repoDir, "refs", "main"))
      assert.isFalse(yield* fs.exists(path.join(repoDir, "snapshots", commit, "pytorch_model.bin")))
    }))

  it.effect("one corrupt transfer is repaired by the re-fetch; small files are checked by git blob id", () =>
    Effect.gen(function*() {
      const { hub, fs, download } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      hub.corrupt("pytorch_model.bin", 1)
      hub.corrupt("vocab.txt", 1)
      const snapshot = yield* download()
      assert.deepStrictEqual(yield* fs.readFile(`${snapshot.dir}/pytorch_model.bin`), WEIGHTS)
      assert.strictEqual(yield* fs.readFileString(`${snapshot.dir}/vocab.txt`), FILES["vocab.txt"])
      assert.lengthOf(hub.fileRequests("vocab.txt", "GET"), 2)
    }))

  it.effect("5xx answers are retried until they pass; 404 is reported at once, naming the file", () =>
    Effect.gen(function*() {
      const { hub, download } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      hub.failNext("config.json", 503, 2)
      const snapshot = yield* download()
      assert.isTrue(snapshot.files.some((f) => f.path === "config.json"))
      assert.lengthOf(hub.fileRequests("config.json", "GET"), 3)

      const { hub: hub2, download: download2 } = yield* setup
      hub2.publish(REPO, { files: FILES, lfs: LFS })
      hub2.failNext("vocab.txt", 404, 10)
      const error = yield* Effect.flip(download2())
      assert.strictEqual(error.reason, "not-found")
      assert.strictEqual(error.status, 404)
      assert.include(error.message, "vocab.txt")
      assert.include(error.message, REPO)
      assert.lengthOf(hub2.fileRequests("vocab.txt", "GET"), 1)
    }))

  it.effect("persistent 5xx ends in a network error after the configured retries", () =>
    Effect.gen(function*() {
      const { hub, download } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      hub.failNext("config.json", 500, 100)
      const error = yield* Effect.flip(download({ retry: { times: 2, baseDelay: "1 millis" } }))
      assert.strictEqual(error.reason, "network")
      assert.include(error.remediation, "HF_HUB_OFFLINE")
      assert.lengthOf(hub.fileRequests("config.json", "GET"), 3)
    }))

  it.effect("a file the revision does not list is a not-found error naming it, before any transfer", () =>
    Effect.gen(function*() {
      const { hub, download } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      const error = yield* Effect.flip(download({ select: (s) => barkFiles(s, ["v2/de_speaker_3"]) }))
      assert.strictEqual(error.reason, "not-found")
      assert.include(error.message, "speaker_embeddings/v2/de_speaker_3_fine_prompt.npy")
      assert.isFalse(hub.requests.some((r) => r.path.includes("/resolve/")))
    }))

  it.effect("offline: a cached snapshot is served with no request; a missing one is named in the error", () =>
    Effect.gen(function*() {
      const { hub, download } = yield* setup
      const commit = hub.publish(REPO, { files: FILES, lfs: LFS })

      const cold = yield* Effect.flip(download({ settings: settings(hub, { offline: true }) }))
      assert.strictEqual(cold.reason, "offline-missing")
      for (const file of SELECTED) assert.include(cold.message, file)
      assert.include(cold.remediation, "HF_HUB_OFFLINE")
      assert.lengthOf(hub.requests, 0)

      yield* download()
      hub.clearRequests()
      const warm = yield* download({ settings: settings(hub, { offline: true }) })
      assert.strictEqual(warm.commit, commit)
      assert.deepStrictEqual(warm.files.map((f) => [f.path, f.cached]), SELECTED.map((f) => [f, true]))
      assert.strictEqual(warm.files.find((f) => f.path === "pytorch_model.bin")?.bytes, WEIGHTS.length)

      const otherVoice = yield* Effect.flip(
        download({ settings: settings(hub, { offline: true }), select: (s) => barkFiles(s, [VOICE, "announcer"]) })
      )
      assert.strictEqual(otherVoice.reason, "offline-missing")
      assert.include(otherVoice.message, "speaker_embeddings/announcer_semantic_prompt.npy")
      assert.notInclude(otherVoice.message, "config.json")
      assert.lengthOf(hub.requests, 0)
    }))

  it.effect("force re-fetches cached files and keeps the old blob when the new one fails", () =>
    Effect.gen(function*() {
      const { hub, fs, path, repoDir, download } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      yield* download()
      const forced = yield* download({ force: true })
      assert.isTrue(forced.files.every((f) => !f.cached))
      assert.lengthOf(hub.fileRequests("pytorch_model.bin").filter((r) => r.origin === "cdn"), 2)

      hub.corrupt("pytorch_model.bin", 2)
      const error = yield* Effect.flip(download({ force: true }))
      assert.strictEqual(error.reason, "checksum")
      const blob = path.join(repoDir, "blobs", sha256(WEIGHTS))
      assert.deepStrictEqual(yield* fs.readFile(blob), WEIGHTS)
      assert.deepStrictEqual(yield* fs.readFile(`${forced.dir}/pytorch_model.bin`), WEIGHTS)
      assert.isFalse(yield* fs.exists(`${blob}.incomplete`))
    }))

  it.effect("the token goes to the hub only, and never into progress events or errors", () =>
    Effect.gen(function*() {
      const { hub, download } = yield* setup
      const secret = "hf_TopSecretToken123"
      hub.publish(REPO, { files: FILES, lfs: LFS })
      hub.requireToken(secret)

      const anonymous = yield* Effect.flip(download())
      assert.strictEqual(anonymous.reason, "unauthorized")
      assert.include(anonymous.remediation, "HF_TOKEN")

      const events: Array<ProgressEvent> = []
      const withToken = settings(hub, { token: Option.some(Redacted.make(secret)) })
      hub.clearRequests()
      yield* download({ settings: withToken, onProgress: (e) => Effect.sync(() => events.push(e)) })
      const hubRequests = hub.requests.filter((r) => r.origin === "hub")
      const cdnRequests = hub.requests.filter((r) => r.origin === "cdn")
      assert.isAbove(cdnRequests.length, 0)
      assert.isTrue(hubRequests.every((r) => r.headers.authorization === `Bearer ${secret}`))
      assert.isTrue(cdnRequests.every((r) => r.headers.authorization === undefined))
      assert.isAbove(events.length, 0)

      hub.failNext("vocab.txt", 404, 1)
      const failure = yield* Effect.flip(download({ settings: withToken, force: true }))
      assert.strictEqual(failure.reason, "not-found")
      for (const text of [JSON.stringify(events), JSON.stringify(failure), String(failure), failure.message, failure.remediation]) {
        expect(text).not.toContain(secret)
      }
    }))

  it.effect("unsafe file names from the server are rejected before touching the disk", () =>
    Effect.gen(function*() {
      const { hub, fs, repoDir, download } = yield* setup
      for (const name of ["../escape.txt", "/etc/passwd", "dir\\file", "nul\0byte", "a/./b", "C:/x"]) {
        hub.publish(REPO, { files: { "config.json": "{}", [name]: "evil" } })
        const error = yield* Effect.flip(download({ select: (s) => s.map((f) => f.rfilename) }))
        assert.strictEqual(error.reason, "unsafe-path", name)
        assert.include(error.message, JSON.stringify(name))
        assert.isFalse(yield* fs.exists(`${repoDir}/snapshots`))
      }
      assert.isFalse(hub.requests.some((r) => r.path.includes("/resolve/")))
    }))

  it.effect("without blob info in the listing, a HEAD gives the blob name (X-Linked-Etag for LFS)", () =>
    Effect.gen(function*() {
      const { hub, download, blobNames } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      hub.listBlobs(false)
      const snapshot = yield* download()
      assert.lengthOf(hub.requests.filter((r) => r.method === "HEAD"), SELECTED.length)
      assert.include(yield* blobNames, sha256(WEIGHTS))
      assert.strictEqual(snapshot.files.find((f) => f.path === "pytorch_model.bin")?.sha256, sha256(WEIGHTS))
    }))

  it.effect("progress is throttled per file and ends with a complete event", () =>
    Effect.gen(function*() {
      const { hub, download } = yield* setup
      hub.publish(REPO, { files: FILES, lfs: LFS })
      const events: Array<ProgressEvent> = []
      yield* download({ concurrency: 1, onProgress: (e) => Effect.sync(() => events.push(e)) })
      for (const file of SELECTED) {
        const mine = events.filter((e) => e.file === file)
        const last = mine.at(-1)
        const size = bytesOf(FILES[file as keyof typeof FILES]).length
        assert.deepStrictEqual([last?.bytes, last?.total, last?.etaSeconds], [size, size, 0], file)
        assert.isAtMost(mine.length, 12, file)
        assert.isTrue(mine.every((e, i) => i === 0 || e.bytes >= mine[i - 1]!.bytes), file)
      }
    }))
})

describe("snapshotDownload configuration", () => {
  // The hub settings come from HF_* variables when not passed explicitly.
  layer(TestLayer, { excludeTestServices: true })("from the environment", (it) => {
    it.effect("HF_HUB_OFFLINE=1 forbids the network", () =>
      Effect.gen(function*() {
        const { hub, root } = yield* setup
        hub.publish(REPO, { files: FILES, lfs: LFS })
        const error = yield* Effect.flip(
          snapshotDownload({ repo: REPO, hubCache: `${root}/hub`, select: (s) => barkFiles(s, []) }).pipe(
            Effect.provideService(
              ConfigProvider.ConfigProvider,
              ConfigProvider.fromEnv({ env: { HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: "1" } })
            )
          )
        )
        assert.strictEqual(error.reason, "offline-missing")
        assert.lengthOf(hub.requests, 0)
      }))
  })
})
