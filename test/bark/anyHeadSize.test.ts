/**
 * A checkpoint with head sizes other than 64
 * (6 for semantic, 20 for coarse, 4 for fine, one coarse head), through the
 * real `bark-pipeline synthesize` command: the startup recipe on a local
 * model directory, conversion into the graph cache, a spoken sentence in a
 * decodable WAV.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeRandomCheckpoint, presets } from "../../src/dev/randomCheckpoint.ts"
import { writeBarkModelDir } from "../../src/dev/modelDir.ts"
import { decodeWav } from "../../src/audio/wav.ts"
import { makeTempDir, runCliProcess } from "../support/cli.ts"

let dir: string

beforeAll(async () => {
  dir = makeTempDir("bark-any-head-")
  await Effect.runPromise(
    Effect.gen(function*() {
      const checkpoint = yield* makeRandomCheckpoint({
        ...presets.tiny,
        semantic: { hidden: 12, heads: 2, layers: 2 },
        coarse: { hidden: 20, heads: 1, layers: 1 },
        fine: { hidden: 12, heads: 3, layers: 1 },
        seed: 11
      })
      yield* writeBarkModelDir(path.join(dir, "model"), checkpoint)
    }).pipe(Effect.provide(NodeServices.layer))
  )
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("any head size", () => {
  it("bark-pipeline synthesize speaks a sentence on a checkpoint with head sizes 6, 20 and 4", async () => {
    const out = path.join(dir, "hello.wav")
    const result = await runCliProcess(
      ["synthesize", "Hello there.", "--model", path.join(dir, "model"), "--seed", "3", "--out", out],
      { env: { BARK_CACHE_DIR: path.join(dir, "cache"), BARK_DEVICE: "cpu" } }
    )
    expect(result.code, result.stderr).toBe(0)
    const wav = await Effect.runPromise(decodeWav(fs.readFileSync(out)))
    expect(wav.sampleRate).toBe(24_000)
    expect(wav.samples.length).toBeGreaterThan(24_000 / 10)
    expect(wav.samples.some((x) => x !== 0)).toBe(true)
  }, 120_000)
})
