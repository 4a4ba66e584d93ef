/**
 * One Hugging Face cache, shared both ways with the official JS client
 * (`@huggingface/hub`): a cache it downloaded (from the fake hub on
 * 127.0.0.1) is used offline by this project's snapshot download, and a
 * cache this project downloaded is scanned by its cache functions — the same
 * repo folder, refs, snapshots and blobs.
 */
import { scanCacheDir, snapshotDownload as hfSnapshotDownload } from "@huggingface/hub"
import { NodeHttpClient, NodeServices } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Effect, FileSystem, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { barkFiles } from "../../src/hub/barkFiles.ts"
import { snapshotDownload } from "../../src/hub/SnapshotDownload.ts"
import { tinyBarkRepo } from "../support/barkRepo.ts"
import { makeFakeHub } from "../support/fakeHub.ts"

const REPO = "acme/bark-tiny"

const setup = Effect.gen(function*() {
  const hub = yield* makeFakeHub
  const repo = yield* tinyBarkRepo({ weights: "safetensors" })
  hub.publish(REPO, { files: repo.files, lfs: ["model.safetensors"] })
  const dir = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped({ prefix: "hf-client-" })
  const ours = (hubCache: string, offline: boolean) =>
    snapshotDownload({
      repo: REPO,
      hubCache,
      select: (siblings) => barkFiles(siblings, []),
      settings: { endpoint: hub.url, token: Option.none(), offline }
    })
  return { hub, dir, files: Object.keys(repo.files), ours }
})

layer(Layer.mergeAll(NodeServices.layer, NodeHttpClient.layerUndici), { excludeTestServices: true })("the Hugging Face cache", (it) => {
  it.effect("a cache filled by @huggingface/hub is read offline by this project", () =>
    Effect.gen(function*() {
      const { hub, dir, ours } = yield* setup
      const cache = path.join(dir, "hub")
      const snapshot = yield* Effect.promise(() => hfSnapshotDownload({ repo: REPO, cacheDir: cache, hubUrl: hub.url }))
      const before = hub.requests.length
      const result = yield* ours(cache, true)
      assert.strictEqual(hub.requests.length, before, "offline: no request")
      assert.strictEqual(result.dir, snapshot)
      assert.isTrue(result.files.some((f) => f.path === "model.safetensors"))
      for (const f of result.files) assert.isTrue(fs.existsSync(path.join(result.dir, f.path)), f.path)
    }).pipe(Effect.scoped), 60_000)

  it.effect("a cache filled by this project is scanned by @huggingface/hub, file for file", () =>
    Effect.gen(function*() {
      const { dir, ours } = yield* setup
      const cache = path.join(dir, "hub")
      const result = yield* ours(cache, false)
      const scan = yield* Effect.promise(() => scanCacheDir(cache))
      assert.deepStrictEqual(scan.warnings, [])
      const repo = scan.repos.find((r) => r.id.name === REPO)!
      assert.isDefined(repo)
      const revision = [...repo.revisions][0]!
      assert.strictEqual(revision.commitOid, result.commit)
      assert.deepStrictEqual([...revision.refs], ["main"])
      assert.sameMembers([...revision.files].map((f) => path.relative(revision.path, f.path)), result.files.map((f) => f.path))
      for (const f of revision.files) assert.strictEqual(f.blob.size, fs.statSync(f.path).size, f.path)
    }).pipe(Effect.scoped), 60_000)
})
