/**
 * fetch-weights and safe-load as an operator runs them: `bark-pipeline run`
 * as a child process against a fake hub on 127.0.0.1, checked through its
 * exit code, stderr and trace.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as JsonlSink from "../../../src/pipeline/sinks/jsonl.ts"
import { tinyBarkRepo } from "../../support/barkRepo.ts"
import { makeTempDir, repoRoot, runCliProcess } from "../../support/cli.ts"
import { type FakeHub, makeFakeHub } from "../../support/fakeHub.ts"

const REPO = "test-org/tiny-bark"
const recipe = path.join(repoRoot, "test/support/weightsRecipe.ts")

let hub: FakeHub
let scope: Scope.Closeable
let commit: string
let tensorCount: number
const dir = makeTempDir("bark-weights-cli-")

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  hub = await Effect.runPromise(Scope.provide(makeFakeHub, scope).pipe(Effect.provide(NodeServices.layer)))
  const repo = await Effect.runPromise(tinyBarkRepo({ weights: "torch" }))
  commit = hub.publish(REPO, { files: repo.files, lfs: ["pytorch_model.bin"] })
  tensorCount = repo.tensors.size
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Effect.void as never))
  fs.rmSync(dir, { recursive: true, force: true })
})

const runWeights = (name: string, model: string) => {
  const trace = path.join(dir, `${name}.jsonl`)
  const env = { HF_ENDPOINT: hub.url, BARK_MODEL: model, BARK_VOICES: "v2/en_speaker_1", BARK_CACHE_DIR: path.join(dir, "cache") }
  return runCliProcess(["run", recipe, "--trace", trace], { env }).then((r) => {
    const events = Effect.runSync(JsonlSink.read(trace))
    const finished = events.flatMap((e) => (e.type === "stage-finished" ? [e.result] : []))
    return { ...r, finished }
  })
}

describe("bark-pipeline run <weights recipe> against a fake hub (child process)", () => {
  it("exits 0; the trace has every stage succeeded, the commit and the tensor count", async () => {
    const r = await runWeights("ok", REPO)
    expect(r.code, r.stderr).toBe(0)
    expect(r.finished.map((x) => [x.stage, x.outcome])).toEqual([
      ["environment", "succeeded"],
      ["cache-dirs", "succeeded"],
      ["fetch-weights", "succeeded"],
      ["safe-load", "succeeded"]
    ])
    const [fetched, loaded] = [r.finished[2]!, r.finished[3]!]
    expect(fetched.metadata["commit"]).toBe(commit)
    expect(loaded.metadata["format"]).toBe("torch")
    expect(loaded.metadata["tensors"]).toBe(tensorCount)
    expect(loaded.metadata["parameters"]).toBeGreaterThan(0)
  })

  it("exits 1 for a repo the hub does not have, with the remediation on stderr", async () => {
    const r = await runWeights("missing", "test-org/no-such-repo")
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/✗ fetch-weights\s+failed/)
    expect(r.stderr).toContain("test-org/no-such-repo")
    expect(r.stderr).toContain("Check the repository id, the revision and the file name")
    expect(r.finished.map((x) => x.outcome)).toEqual(["succeeded", "succeeded", "failed", "not-run"])
    expect(r.finished[2]?.error?.tag).toBe("HubError")
  })
})
