import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { decodeWav, encodeWav } from "../../src/audio/wav.ts"
import * as Audio from "../../src/audio/pcm.ts"

const tone = Float32Array.from({ length: 480 }, (_, i) => 0.8 * Math.sin((2 * Math.PI * 440 * i) / 24_000))

const header = (bytes: Uint8Array) => {
  const view = new DataView(bytes.buffer)
  const text = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4))
  return { riff: text(0), riffSize: view.getUint32(4, true), wave: text(8), tag: view.getUint16(20, true), channels: view.getUint16(22, true), rate: view.getUint32(24, true), byteRate: view.getUint32(28, true), bits: view.getUint16(34, true) }
}

describe("encodeWav", () => {
  it("writes a mono 16-bit PCM RIFF header", () => {
    const bytes = encodeWav(tone, 24_000)
    assert.strictEqual(bytes.length, 44 + 2 * tone.length)
    assert.deepStrictEqual(header(bytes), {
      riff: "RIFF", riffSize: bytes.length - 8, wave: "WAVE", tag: 1, channels: 1, rate: 24_000, byteRate: 48_000, bits: 16
    })
  })

  it("writes float32 with the extended fmt chunk and a fact chunk", () => {
    const bytes = encodeWav(tone, 24_000, "float32")
    const h = header(bytes)
    assert.deepStrictEqual([h.tag, h.bits, h.byteRate, h.riffSize], [3, 32, 96_000, bytes.length - 8])
    assert.strictEqual(String.fromCharCode(...bytes.subarray(38, 42)), "fact")
    assert.strictEqual(bytes.length, 58 + 4 * tone.length)
  })
})

describe("decodeWav", () => {
  it.effect("round-trips PCM16 within one quantisation step, clipping out-of-range samples", () =>
    Effect.gen(function*() {
      const input = Float32Array.of(...tone, 1.5, -3, Number.NaN, -1)
      const wav = yield* decodeWav(encodeWav(input, 24_000))
      assert.deepStrictEqual([wav.sampleRate, wav.channels, wav.format, wav.samples.length], [24_000, 1, "pcm16", input.length])
      for (let i = 0; i < tone.length; i++) assert.closeTo(wav.samples[i]!, tone[i]!, 1 / 16_384)
      assert.closeTo(wav.samples[480]!, 1, 1e-4)
      assert.closeTo(wav.samples[481]!, -1, 1e-4)
      assert.strictEqual(wav.samples[482], 0)
    }))

  it.effect("round-trips float32 exactly, beyond [-1, 1] too", () =>
    Effect.gen(function*() {
      const input = Float32Array.of(...tone, 2.5, -7.25)
      const wav = yield* decodeWav(encodeWav(input, 16_000, "float32"))
      assert.strictEqual(wav.format, "float32")
      assert.strictEqual(wav.sampleRate, 16_000)
      assert.deepStrictEqual(Array.from(wav.samples), Array.from(input))
    }))

  it.effect("skips unknown chunks (odd sizes padded) and reads stereo interleaved", () =>
    Effect.gen(function*() {
      const mono = encodeWav(Float32Array.of(0.5, -0.5), 8000)
      const list = Uint8Array.of(...new TextEncoder().encode("LIST"), 3, 0, 0, 0, 1, 2, 3, 0)
      const bytes = new Uint8Array([...mono.subarray(0, 36), ...list, ...mono.subarray(36)])
      const view = new DataView(bytes.buffer)
      view.setUint32(4, bytes.length - 8, true)
      view.setUint16(22, 2, true) // the two samples become one stereo frame
      const wav = yield* decodeWav(bytes)
      assert.strictEqual(wav.channels, 2)
      assert.deepStrictEqual(Array.from(wav.samples), [16_384 / 32_768, -16_384 / 32_768].map((v) => Math.fround(v)))
    }))

  it.effect("fails with a WavError on malformed or unsupported files", () =>
    Effect.gen(function*() {
      const good = encodeWav(tone, 24_000)
      const truncated = good.slice(0, 100)
      const noWave = good.slice()
      noWave.set(new TextEncoder().encode("AVI "), 8)
      const pcm24 = good.slice()
      new DataView(pcm24.buffer).setUint16(34, 24, true)
      const cases: Array<[Uint8Array, string]> = [
        [new Uint8Array(0), "RIFF/WAVE"],
        [noWave, "RIFF/WAVE"],
        [truncated, "file ends first"],
        [good.slice(0, 36), "no data chunk"],
        [pcm24, "24 bits"]
      ]
      for (const [bytes, expected] of cases) {
        const error = yield* Effect.flip(decodeWav(bytes))
        assert.strictEqual(error._tag, "WavError")
        assert.include(error.message, expected)
      }
    }))

  it.effect("reads a streamed WAV (data size 0xFFFFFFFF) to the end of the file", () =>
    Effect.gen(function*() {
      const samples = Float32Array.from({ length: 480 }, (_, i) => Math.sin(i / 10) / 2)
      const stream = new Uint8Array([...Audio.streamingWavHeader(24_000), ...Audio.pcm(samples)])
      const wav = yield* decodeWav(stream)
      assert.strictEqual(wav.sampleRate, 24_000)
      assert.strictEqual(wav.samples.length, 480)
      assert.deepStrictEqual([...wav.samples], [...(yield* decodeWav(encodeWav(samples, 24_000))).samples])
    }))
})
