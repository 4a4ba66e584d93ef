/**
 * The promise API (`load` from the package entry) on a tiny model through a
 * local startup recipe: synthesis, streaming with an early exit, abort,
 * startup failure, and the WAV helpers.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeRandomCheckpoint, presets } from "../../../src/dev/randomCheckpoint.ts"
import { writeBarkModelDir } from "../../../src/dev/modelDir.ts"
import {
  type AudioChunk,
  type Bark,
  decodeWav,
  draft,
  encodeWav,
  load,
  Stage,
  synthesis,
  SynthesisRecipe,
  SynthesisServices
} from "../../../src/index.ts"
import { localRecipe } from "./localRecipe.ts"

let dir: string
let bark: Bark
const events: Array<string> = []

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bark-promise-"))
  await Effect.runPromise(
    Effect.flatMap(makeRandomCheckpoint(presets.tiny), (c) => writeBarkModelDir(dir, c)).pipe(Effect.provide(NodeServices.layer))
  )
  bark = await load({ pipeline: localRecipe, model: dir, onProgress: (e) => void events.push(e.type) })
}, 60_000)

afterAll(async () => {
  await bark?.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

describe("load (promise API)", () => {
  it("runs the recipe and synthesizes reproducibly", async () => {
    expect(bark.voices).toEqual(["v2/en_speaker_0", "v2/en_speaker_1"])
    expect(bark.report.results.at(-1)).toMatchObject({ stage: "ready", outcome: "succeeded" })
    expect(events[0]).toBe("pipeline-started")
    expect(events.at(-1)).toBe("pipeline-finished")
    const progress: Array<string> = []
    const a = await bark.synthesize("Hello there.", { voice: "v2/en_speaker_0", seed: 5, onProgress: (p) => void progress.push(p.stage) })
    const b = await bark.synthesize("Hello there.", { voice: "v2/en_speaker_0", seed: 5 })
    expect(a.sampleRate).toBe(24_000)
    expect(a.audio.length).toBeGreaterThan(0)
    expect(b.audio).toEqual(a.audio)
    expect(new Set(progress)).toEqual(new Set(["semantic", "coarse", "fine", "codec"]))

    const wav = decodeWav(encodeWav(a.audio, a.sampleRate))
    expect(wav.sampleRate).toBe(24_000)
    expect(wav.samples.length).toBe(a.audio.length)
  })

  it("takes a synthesis recipe as a value, and hands each stage's event to onTrace", async () => {
    const houseStyle = Stage.make({
      name: "normalize-text",
      purpose: "the text as written, in upper case",
      provides: SynthesisServices.SpokenText,
      build: SynthesisServices.SynthesisRequest.useSync(({ text }) => SynthesisServices.SpokenText.of({ text: text.toUpperCase() }))
    })
    const shouting = synthesis.pipe(SynthesisRecipe.replace(SynthesisServices.SpokenText, houseStyle), SynthesisRecipe.rename("shouting", "upper case"))
    const stages: Array<string> = []
    const out = await bark.synthesize("Hello there.", {
      seed: 5,
      pipeline: shouting,
      onTrace: (e) => void (e.type === "stage-finished" && stages.push(`${e.run} ${e.result.stage} ${e.result.outcome}`))
    })
    expect(out.chunks[0]!.text).toBe("HELLO THERE.")
    expect(stages).toContain("shouting/prepare normalize-text succeeded")
    expect(stages).toContain("shouting/chunk 1 fine succeeded")
    const drafted: Array<string> = []
    await bark.synthesize("Hello there.", { seed: 5, pipeline: draft, onTrace: (e) => void (e.type === "stage-finished" && drafted.push(`${e.result.stage} ${e.result.outcome}`)) })
    expect(drafted).toContain("fine skipped")
  })

  it("streams chunks and stops when the loop is left", async () => {
    const text = "One two three four five six. Seven eight nine ten eleven twelve."
    const chunks: Array<AudioChunk> = []
    for await (const chunk of bark.stream(text, { seed: 1 })) {
      chunks.push(chunk)
      break
    }
    expect(chunks.map((c) => c.index)).toEqual([0])
    const whole = await bark.synthesize(text, { seed: 1 })
    expect(whole.chunks.length).toBe(2)
    expect(chunks[0]!.audio).toEqual(whole.audio.subarray(0, chunks[0]!.audio.length))
  })

  it("rejects bad requests and aborted ones", async () => {
    await expect(bark.synthesize("Hi.", { voice: "nobody" })).rejects.toMatchObject({
      _tag: "SynthesisError",
      reason: "unknown-voice"
    })
    const controller = new AbortController()
    const pending = bark.synthesize("One two three four five six. Seven eight nine ten eleven twelve.", {
      seed: 1,
      signal: controller.signal,
      onProgress: (p) => p.done === 3 && controller.abort()
    })
    await expect(pending).rejects.toBeDefined()
  })

  it("rejects with the failed stage and what to do when startup fails", async () => {
    await expect(load({ pipeline: localRecipe, model: path.join(dir, "missing") })).rejects.toMatchObject({
      _tag: "PipelineFailed",
      stage: "models"
    })
  })
})
