/**
 * The whole startup recipe as an operator runs it: a fake hub on 127.0.0.1,
 * `bark-pipeline synthesize` as a child process, then the WAV and the trace
 * checked stage by stage.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { decodeWav } from "../../src/audio/wav.ts"
import * as JsonlSink from "../../src/pipeline/sinks/jsonl.ts"
import { tinyBarkRepo } from "../support/barkRepo.ts"
import { makeTempDir, repoRoot, runCliProcess } from "../support/cli.ts"
import { type FakeHub, makeFakeHub } from "../support/fakeHub.ts"

const REPO = "test-org/tiny-bark"
const TOKEN = "hf_secret_test_token_123"

let hub: FakeHub
let scope: Scope.Closeable
const dir = makeTempDir("bark-startup-hub-")

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  hub = await Effect.runPromise(Scope.provide(makeFakeHub, scope).pipe(Effect.provide(NodeServices.layer)))
  const repo = await Effect.runPromise(tinyBarkRepo({ weights: "safetensors" }))
  hub.publish(REPO, { files: repo.files, lfs: ["model.safetensors"] })
  hub.requireToken(TOKEN)
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Effect.void as never))
  fs.rmSync(dir, { recursive: true, force: true })
})

/** startup with generation capped: random weights never emit EOS. */
const writeRecipe = () => {
  const file = path.join(dir, "capped-startup.ts")
  fs.writeFileSync(
    file,
    `import * as Pipeline from "${repoRoot}/src/pipeline/Pipeline.ts"
import * as Ready from "${repoRoot}/src/bark/stages/ready.ts"
import startup from "${repoRoot}/pipelines/startup.ts"
export default startup.pipe(Pipeline.replace("ready", Ready.make({ generation: { semantic: { maxGenDurationS: 0.5 } } })))
`
  )
  return file
}

describe("fake hub → startup → ready → synthesize (child process)", () => {
  it("writes a valid WAV and a trace with every stage's outcome; the token never reaches the trace", async () => {
    const out = path.join(dir, "out.wav")
    const trace = path.join(dir, "trace.jsonl")
    const r = await runCliProcess(
      ["synthesize", "Hello there. This is a test.", "--pipeline", writeRecipe(), "--voice", "v2/en_speaker_1", "--seed", "7", "--out", out, "--trace", trace],
      {
        env: {
          HF_ENDPOINT: hub.url,
          HF_TOKEN: TOKEN,
          BARK_MODEL: REPO,
          BARK_VOICES: "v2/en_speaker_1",
          BARK_CACHE_DIR: path.join(dir, "cache"),
          BARK_INTRA_OP_THREADS: "1"
        }
      }
    )
    expect(r.code, r.stderr).toBe(0)
    const wav = Effect.runSync(decodeWav(fs.readFileSync(out)))
    expect(wav.sampleRate).toBe(24_000)
    expect(wav.samples.length).toBeGreaterThan(0)
    expect(wav.samples.length % 320).toBe(0)

    const events = Effect.runSync(JsonlSink.read(trace))
    // the run's own report is the last event; the synthesis recipe's runs (prepare, then one per chunk) come before it
    const runs = events.flatMap((e) => (e.type === "pipeline-finished" ? [e.report] : []))
    const outcomes = Object.fromEntries(runs.at(-1)!.results.map((r) => [r.stage, r.outcome]))
    expect(runs.slice(0, -1).map((r) => r.pipeline)).toEqual(["synthesis/prepare", ...Array(runs.length - 2).fill("synthesis/chunk")])
    const synthesisStages = new Set(runs.slice(0, -1).flatMap((r) => r.results.map((x) => x.stage)))
    expect([...synthesisStages]).toEqual(["normalize-text", "split", "voice", "audio-cache", "tokenize", "semantic", "coarse", "fine", "codec", "post"])
    // device: skipped on a machine without a GPU, warned (CPU fallback) on one without CUDA binaries
    expect(["skipped", "warned"]).toContain(outcomes["device"])
    expect({ ...outcomes, device: "-" }).toEqual({
      environment: "succeeded",
      "cache-dirs": "succeeded",
      "fetch-weights": "succeeded",
      "safe-load": "succeeded",
      device: "-",
      preload: "succeeded",
      compile: "succeeded",
      ready: "succeeded",
      synthesize: "succeeded"
    })
    expect(hub.requests.some((req) => req.headers.authorization === `Bearer ${TOKEN}`)).toBe(true)
    const text = fs.readFileSync(trace, "utf8") + r.stdout + r.stderr
    expect(text).not.toContain(TOKEN)
  })

  it("keeps model files where HF_HUB_CACHE says and this project's own files under BARK_CACHE_DIR", async () => {
    const hubCache = path.join(dir, "hf-hub-cache")
    const own = path.join(dir, "own-cache")
    const out = path.join(dir, "hf.wav")
    const r = await runCliProcess(["synthesize", "Hi.", "--pipeline", writeRecipe(), "--seed", "1", "--out", out], {
      env: {
        HF_ENDPOINT: hub.url,
        HF_TOKEN: TOKEN,
        BARK_MODEL: REPO,
        HF_HUB_CACHE: hubCache,
        BARK_CACHE_DIR: own,
        BARK_INTRA_OP_THREADS: "1"
      }
    })
    expect(r.code, r.stderr).toBe(0)
    const snapshots = path.join(hubCache, "models--test-org--tiny-bark", "snapshots")
    expect(fs.readdirSync(snapshots)).toHaveLength(1)
    expect(fs.existsSync(path.join(own, "hub"))).toBe(false)
    expect(fs.readdirSync(path.join(own, "bark-pipeline", "graphs"))).toHaveLength(1)
  })
})
