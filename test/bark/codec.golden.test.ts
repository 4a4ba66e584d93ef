/**
 * Parity of the EnCodec decoder graph with the reference implementation's
 * outputs, for every golden case under ../shared/fixtures/golden.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { makeCodecDecoder } from "../../src/bark/codec/decoder.ts"
import { CodecConfig } from "../../src/bark/codec/config.ts"
import { decodeNpy } from "../../src/checkpoint/npy.ts"
import { decode as decodeSafetensors } from "../../src/checkpoint/safetensors.ts"
import { toFloat32, toInt32 } from "../../src/checkpoint/Tensor.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"

const goldenRoot = fileURLToPath(new URL("../../../shared/fixtures/golden/", import.meta.url))
const cases = existsSync(goldenRoot)
  ? readdirSync(goldenRoot, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(`${goldenRoot}${e.name}/codec_codes.npy`))
    .map((e) => e.name)
  : []

const ATOL = 1e-4

const maxAbsDiff = (actual: Float32Array, expected: Float32Array) => {
  assert.strictEqual(actual.length, expected.length, "length")
  let worst = 0
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!))
  return worst
}

const loadCase = (dir: string) =>
  Effect.gen(function*() {
    const npy = (name: string) => decodeNpy(readFileSync(`${dir}/${name}`), name)
    const checkpoint = yield* decodeSafetensors(readFileSync(`${dir}/model.safetensors`))
    const json = JSON.parse(readFileSync(`${dir}/config.json`, "utf8")) as { codec_config: unknown }
    const config = yield* Schema.decodeUnknownEffect(CodecConfig)(json.codec_config)
    const backend = yield* InferenceBackend
    const decoder = yield* makeCodecDecoder(checkpoint.tensors, config, backend)
    return { npy, decoder }
  })

describe("EnCodec decoder: golden parity", () => {
  it("finds at least one golden case", () => {
    assert.isAbove(cases.length, 0, `no golden cases under ${goldenRoot}`)
  })

  for (const name of cases) {
    const dir = `${goldenRoot}${name}`
    it.effect(`${name}: embeddings and waveforms`, () =>
      Effect.gen(function*() {
        const { npy, decoder } = yield* loadCase(dir)
        const codes = yield* npy("codec_codes.npy")
        const frames = codes.shape[1]!
        const ints = toInt32(codes)

        const embeddings = yield* decoder.embeddings(ints, frames)
        const expectedEmbeddings = toFloat32(yield* npy("codec_embeddings.npy"))
        assert.isAtMost(maxAbsDiff(embeddings, expectedEmbeddings), ATOL, "codec_embeddings")

        const waveform = yield* decoder.decode(ints, frames)
        assert.strictEqual(waveform.length, frames * decoder.hopLength)
        assert.isAtMost(maxAbsDiff(waveform, toFloat32(yield* npy("codec_waveform.npy"))), ATOL, "codec_waveform")

        if (existsSync(`${dir}/codec_short_codes.npy`)) {
          const short = yield* npy("codec_short_codes.npy")
          const shortWave = yield* decoder.decode(toInt32(short), short.shape[1]!)
          assert.isAtMost(maxAbsDiff(shortWave, toFloat32(yield* npy("codec_short_waveform.npy"))), ATOL, "codec_short_waveform")
        }
      }).pipe(Effect.provide(InferenceBackend.cpu({ intraOpNumThreads: 2 }))))
  }
})
