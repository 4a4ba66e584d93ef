import { NodeServices } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { encodeRevision, isCommitHash, isRepoId, resolveModelSource } from "../../src/hub/RepoId.ts"

describe("repository ids and revisions", () => {
  it("accepts hub ids and rejects paths and malformed names", () => {
    for (const id of ["suno/bark-small", "suno/bark", "gpt2", "org_1/model.v2"]) assert.isTrue(isRepoId(id), id)
    for (const id of ["", "a/b/c", "../x", "org/..", "org/a--b", "/abs", "org/", "org/name.", "with space/x"]) {
      assert.isFalse(isRepoId(id), id)
    }
  })

  it("encodes revisions the way the hub expects and recognises commits", () => {
    assert.strictEqual(encodeRevision("refs/pr/5"), "refs%2Fpr%2F5")
    assert.strictEqual(encodeRevision("main"), "main")
    assert.isTrue(isCommitHash("0123456789abcdef0123456789abcdef01234567"))
    assert.isFalse(isCommitHash("main"))
    assert.isFalse(isCommitHash("0123456789ABCDEF0123456789abcdef01234567"))
  })
})

layer(NodeServices.layer)("resolveModelSource", (it) => {
  it.effect("an existing directory is a local model; anything else must be a repository id", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "model-src-" })
      assert.deepStrictEqual(yield* resolveModelSource(dir), { _tag: "LocalDir", dir })
      assert.deepStrictEqual(yield* resolveModelSource("suno/bark-small"), { _tag: "HubRepo", repo: "suno/bark-small" })
      const error = yield* Effect.flip(resolveModelSource(`${dir}/missing/model`))
      assert.strictEqual(error.reason, "invalid-repo")
      assert.include(error.remediation, "local model directory")
    }))
})
