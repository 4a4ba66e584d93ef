import { describe, expect, it } from "vitest"
import { Cause, Effect, Exit, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { makeMockEngine, standardVoices } from "../../src/bark/engine/mock.ts"
import { DEFAULT_SILENCE_SECONDS } from "../../src/bark/engine/assemble.ts"

describe("Mock engine", () => {
  const engine = makeMockEngine()

  it("knows Bark's standard voices", () => {
    expect(standardVoices).toHaveLength(1 + 13 * 10 * 2)
    expect(engine.voices).toContain("announcer")
    expect(engine.voices).toContain("ja_speaker_3")
    expect(engine.voices).toContain("v2/tr_speaker_9")
  })

  it("is deterministic in text, voice and seed, and about 65 ms of audio per character", async () => {
    const run = (voice: string, seed: number) => Effect.runPromise(engine.synthesize("Hello world, how are you?", { voice, seed }))
    const a = await run("v2/en_speaker_1", 3)
    expect(a.sampleRate).toBe(24_000)
    expect((await run("v2/en_speaker_1", 3)).audio).toEqual(a.audio)
    expect((await run("v2/en_speaker_2", 3)).audio).not.toEqual(a.audio)
    expect((await run("v2/en_speaker_1", 4)).audio).not.toEqual(a.audio)
    expect(a.audio.length / 24_000).toBeCloseTo(25 * 0.065, 2)
    const peak = Math.max(...a.audio.map(Math.abs))
    expect(peak).toBeGreaterThan(0.25)
    expect(peak).toBeLessThan(0.31)
  })

  it("splits long text into chunks with Bark's pause between them; the stream is the synthesis", async () => {
    const text = `${"one two three four five six seven eight nine ten. ".repeat(6)}`
    const whole = await Effect.runPromise(engine.synthesize(text, { seed: 1 }))
    expect(whole.chunks.length).toBeGreaterThan(1)
    const chunks = await Effect.runPromise(Stream.runCollect(engine.stream(text, { seed: 1 })))
    expect(chunks.map((c) => c.index)).toEqual(whole.chunks.map((c) => c.index))
    const second = chunks[1]!
    const gap = Math.round(DEFAULT_SILENCE_SECONDS * 24_000)
    expect(second.audio.subarray(0, gap).every((x) => x === 0)).toBe(true)
    expect(Float32Array.from(chunks.flatMap((c) => Array.from(c.audio)))).toEqual(whole.audio)
  })

  it("rejects unknown voices and empty text with what to do", async () => {
    const exit = await Effect.runPromiseExit(engine.synthesize("hi", { voice: "v2/xx_speaker_0" }))
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
    expect(error?._tag === "Some" && error.value.reason).toBe("unknown-voice")
    expect(error?._tag === "Some" && error.value.remediation).toContain("v2/{lang}_speaker_{0..9}")
    const empty = await Effect.runPromise(Effect.flip(engine.synthesize("   ")))
    expect(empty.reason).toBe("invalid-input")
  })

  it("simulates latency per chunk, reports progress per stage, and stops when interrupted", () =>
    Effect.runPromise(Effect.gen(function*() {
      const slow = makeMockEngine({ latencyMs: 300 })
      const stages: Array<string> = []
      const fiber = yield* Effect.forkChild(slow.synthesize("one chunk", {
        onProgress: (p) => Effect.sync(() => void stages.push(p.stage))
      }))
      yield* TestClock.adjust("300 millis")
      expect(stages).toEqual(["semantic", "coarse", "fine"])
      expect(fiber.pollUnsafe()).toBeDefined()

      const interrupted = yield* Effect.forkChild(slow.synthesize("never finished"))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(interrupted)
      const exit = yield* Fiber.await(interrupted)
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
    }).pipe(Effect.provide(TestClock.layer()))))
})
