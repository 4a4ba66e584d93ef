/**
 * `--dtype` end to end through the real `bark-pipeline synthesize` on a tiny
 * local model: each dtype converts into a cache entry of its own, reported
 * in the trace; a second start in the same dtype is a cache hit and speaks
 * the same audio for the same seed; a dtype that does not exist is a usage
 * error naming the ones that do.
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
const env = () => ({ BARK_CACHE_DIR: path.join(dir, "cache"), BARK_DEVICE: "cpu" })

beforeAll(async () => {
  dir = makeTempDir("bark-dtype-")
  await Effect.runPromise(
    Effect.flatMap(makeRandomCheckpoint({ ...presets.tiny, seed: 5 }), (c) => writeBarkModelDir(path.join(dir, "model"), c)).pipe(
      Effect.provide(NodeServices.layer)
    )
  )
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** One synthesis; the audio and the safe-load stage's result from the trace. */
const synthesize = async (name: string, args: ReadonlyArray<string>, extraEnv: Record<string, string> = {}) => {
  const out = path.join(dir, `${name}.wav`)
  const trace = path.join(dir, `${name}.jsonl`)
  const result = await runCliProcess(
    ["synthesize", "Hello there.", "--model", path.join(dir, "model"), "--seed", "3", "--out", out, "--trace", trace, ...args],
    { env: { ...env(), ...extraEnv } }
  )
  expect(result.code, result.stderr).toBe(0)
  const finished = fs.readFileSync(trace, "utf8").split("\n").filter((l) => l.includes("\"stage-finished\"")).map((l) => JSON.parse(l))
  const stage = (s: string) => finished.find((e) => e.result.stage === s).result
  return {
    wav: await Effect.runPromise(decodeWav(fs.readFileSync(out))),
    safeLoad: stage("safe-load"),
    preload: stage("preload"),
    ready: stage("ready")
  }
}

describe("--dtype", () => {
  it("converts each dtype once into its own cache entry and speaks the same audio from the cached one", async () => {
    const q4 = await synthesize("q4", ["--dtype", "q4"])
    expect(q4.safeLoad.metadata.dtype).toBe("q4")
    expect(q4.safeLoad.metadata.graphCache).toBe("miss")
    expect(q4.ready.metadata.dtype).toBe("q4")
    expect(q4.wav.samples.length).toBeGreaterThan(0)

    const int8 = await synthesize("int8", [], { BARK_DTYPE: "int8" })
    expect(int8.safeLoad.metadata.dtype).toBe("int8")
    expect(int8.safeLoad.metadata.graphCache).toBe("miss")
    expect(int8.safeLoad.metadata.graphCacheKey).not.toBe(q4.safeLoad.metadata.graphCacheKey)
    expect(int8.safeLoad.metadata.graphBytes).toBeGreaterThan(q4.safeLoad.metadata.graphBytes)

    const again = await synthesize("q4-again", ["--dtype", "q4"], { BARK_DTYPE: "int8" }) // the flag wins
    expect(again.safeLoad.outcome).toBe("skipped")
    expect(again.safeLoad.metadata.graphCache).toBe("hit")
    expect(again.safeLoad.metadata.graphCacheKey).toBe(q4.safeLoad.metadata.graphCacheKey)
    expect(again.wav.samples).toEqual(q4.wav.samples)

    const graphs = path.join(dir, "cache", "bark-pipeline", "graphs")
    const dtypes = fs.readdirSync(graphs).map((key) => JSON.parse(fs.readFileSync(path.join(graphs, key, "manifest.json"), "utf8")).inputs.dtype)
    expect(dtypes.sort()).toEqual(["int8", "q4"])
  }, 180_000)

  it("runs fp16 on the CPU, with a warning that onnxruntime computes it in float32 there", async () => {
    const fp16 = await synthesize("fp16", ["--dtype", "fp16"])
    expect(fp16.ready.metadata.dtype).toBe("fp16")
    expect(fp16.wav.samples.length).toBeGreaterThan(0)
    expect(fp16.preload.outcome).toBe("warned")
    expect(JSON.stringify(fp16.preload)).toContain("use BARK_DTYPE=int8 or q4 on CPUs")
  }, 60_000)

  it("refuses a dtype that does not exist, naming the ones that do", async () => {
    const r = await runCliProcess(["synthesize", "Hi.", "--model", path.join(dir, "model"), "--out", path.join(dir, "x.wav"), "--dtype", "q3"], {
      env: env()
    })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/fp32.*int8.*q4/s)
    expect(fs.existsSync(path.join(dir, "x.wav"))).toBe(false)
  })
})
