/**
 * The EnCodec decoder on tiny random checkpoints: checkpoint variants that must
 * decode identically, causality, decoding fewer than 8 codebooks (the draft
 * lane's 1.5 kbps), and the typed errors for bad checkpoints and bad codes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { CodecConfig } from "../../src/bark/codec/config.ts"
import { makeCodecDecoder } from "../../src/bark/codec/decoder.ts"
import { makeRandomCheckpoint, presets, type RandomCheckpointOptions } from "../../src/dev/randomCheckpoint.ts"
import { make, numel, type Tensor, toFloat32, type Weights } from "../../src/checkpoint/Tensor.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"

const tiny = presets.tiny
const FRAMES = 12

const randomCodes = (frames: number, seed = 7, codebooks = 8) => {
  let s = seed
  return Int32Array.from({ length: codebooks * frames }, () => (s = (s * 1103515245 + 12345) % 2 ** 31) % 1024)
}

const tinyCheckpoint = Effect.runSync(makeRandomCheckpoint(tiny))

const checkpoint = (options: Partial<RandomCheckpointOptions> = {}) =>
  Object.keys(options).length === 0 ? Effect.succeed(tinyCheckpoint) : makeRandomCheckpoint({ ...tiny, ...options })

const decoderFor = (tensors: Weights, codecConfig: unknown) =>
  Effect.gen(function*() {
    const config = yield* Schema.decodeUnknownEffect(CodecConfig)(codecConfig)
    return yield* makeCodecDecoder(tensors, config, yield* InferenceBackend)
  })

const decodeWith = (tensors: Weights, codecConfig: unknown, codes: Int32Array, frames: number) =>
  Effect.flatMap(decoderFor(tensors, codecConfig), (d) => d.decode(codes, frames))

const withoutKeys = (tensors: Weights, drop: (key: string) => boolean): Weights =>
  new Map([...tensors].filter(([key]) => !drop(key)))

const assertSame = (a: Float32Array, b: Float32Array, atol = 0) => {
  assert.strictEqual(a.length, b.length)
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!))
  assert.isAtMost(worst, atol)
}

const withF16 = (t: Tensor): Tensor => make("F16", t.shape, new Uint8Array(new Float16Array(toFloat32(t)).buffer))
const roundedToF16 = (t: Tensor): Tensor => make("F32", t.shape, new Uint8Array(new Float32Array(new Float16Array(toFloat32(t))).buffer))

const cpu = Effect.provide(InferenceBackend.cpu({ intraOpNumThreads: 2 }))

describe("EnCodec decoder on random checkpoints", () => {
  it.effect("decodes to frames × 320 finite, non-constant samples", () =>
    Effect.gen(function*() {
      const ckpt = yield* checkpoint()
      const wave = yield* decodeWith(ckpt.tensors, ckpt.config.codec_config, randomCodes(FRAMES), FRAMES)
      assert.strictEqual(wave.length, FRAMES * 320)
      assert.isTrue(wave.every(Number.isFinite))
      assert.isAbove(Math.max(...wave) - Math.min(...wave), 1e-3)
    }).pipe(cpu))

  it.effect("parametrizations.weight.original0/1 decode like weight_g/weight_v", () =>
    Effect.gen(function*() {
      const legacy = yield* checkpoint({ weightNorm: "weight_g" })
      const modern = yield* checkpoint({ weightNorm: "parametrizations" })
      assert.isTrue([...modern.tensors.keys()].some((k) => k.endsWith("parametrizations.weight.original1")))
      const codes = randomCodes(FRAMES)
      assertSame(
        yield* decodeWith(legacy.tensors, legacy.config.codec_config, codes, FRAMES),
        yield* decodeWith(modern.tensors, modern.config.codec_config, codes, FRAMES)
      )
    }).pipe(cpu))

  it.effect("F16 codebooks are upcast exactly", () =>
    Effect.gen(function*() {
      const ckpt = yield* checkpoint()
      const isEmbed = (key: string) => key.endsWith("codebook.embed")
      const f16 = new Map([...ckpt.tensors].map(([k, t]) => [k, isEmbed(k) ? withF16(t) : t]))
      const f32 = new Map([...ckpt.tensors].map(([k, t]) => [k, isEmbed(k) ? roundedToF16(t) : t]))
      const codes = randomCodes(FRAMES)
      const decoder = yield* decoderFor(f16, ckpt.config.codec_config)
      const reference = yield* decoderFor(f32, ckpt.config.codec_config)
      assertSame(yield* decoder.embeddings(codes, FRAMES), yield* reference.embeddings(codes, FRAMES))
      assertSame(yield* decoder.decode(codes, FRAMES), yield* reference.decode(codes, FRAMES))
    }).pipe(cpu))

  it.effect("a whole F16 checkpoint decodes", () =>
    Effect.gen(function*() {
      const ckpt = yield* checkpoint({ dtype: "F16" })
      const wave = yield* decodeWith(ckpt.tensors, ckpt.config.codec_config, randomCodes(FRAMES), FRAMES)
      assert.isTrue(wave.every(Number.isFinite))
    }).pipe(cpu))

  it.effect.each([16, 32])("only the first 8 of %i stored codebooks are used", (stored) =>
    Effect.gen(function*() {
      const many = yield* checkpoint({ codebooks: stored })
      const eight = yield* checkpoint({ codebooks: 8 })
      const firstEight = withoutKeys(many.tensors, (k) => {
        const index = /quantizer\.layers\.(\d+)\./.exec(k)?.[1]
        return index !== undefined && Number(index) >= 8
      })
      const codes = randomCodes(FRAMES)
      assertSame(
        yield* decodeWith(many.tensors, many.config.codec_config, codes, FRAMES),
        yield* decodeWith(firstEight, eight.config.codec_config, codes, FRAMES)
      )
    }).pipe(cpu))

  it.effect("a codec_config listing only non-default fields decodes like the full one", () =>
    Effect.gen(function*() {
      const full = yield* checkpoint({ codecConfig: "full" })
      const minimal = yield* checkpoint({ codecConfig: "minimal" })
      assert.notProperty(minimal.config.codec_config, "upsampling_ratios")
      const codes = randomCodes(FRAMES)
      assertSame(
        yield* decodeWith(full.tensors, full.config.codec_config, codes, FRAMES),
        yield* decodeWith(minimal.tensors, minimal.config.codec_config, codes, FRAMES)
      )
    }).pipe(cpu))

  it.effect("is causal: a prefix of the codes decodes to a prefix of the waveform", () =>
    Effect.gen(function*() {
      const ckpt = yield* checkpoint()
      const decoder = yield* decoderFor(ckpt.tensors, ckpt.config.codec_config)
      const codes = randomCodes(FRAMES)
      const whole = yield* decoder.decode(codes, FRAMES)
      const head = 8
      const prefix = Int32Array.from({ length: 8 * head }, (_, i) => codes[Math.floor(i / head) * FRAMES + (i % head)]!)
      assertSame(yield* decoder.decode(prefix, head), whole.subarray(0, head * 320), 1e-5)
    }).pipe(cpu))

  it.effect("decodes inputs shorter than the first conv's padding (1..6 frames)", () =>
    Effect.gen(function*() {
      const ckpt = yield* checkpoint()
      const decoder = yield* decoderFor(ckpt.tensors, ckpt.config.codec_config)
      for (const frames of [1, 2, 6, 7]) {
        const wave = yield* decoder.decode(randomCodes(frames), frames)
        assert.strictEqual(wave.length, frames * 320)
        assert.isTrue(wave.every(Number.isFinite))
      }
    }).pipe(cpu))

  it.effect("a missing or mis-shaped tensor is a CodecWeightsError naming it", () =>
    Effect.gen(function*() {
      const ckpt = yield* checkpoint()
      const config = ckpt.config.codec_config
      const missingKey = "codec_model.decoder.layers.4.block.1.conv.weight_g"
      const missing = yield* Effect.flip(decoderFor(withoutKeys(ckpt.tensors, (k) => k === missingKey), config))
      assert.strictEqual(missing._tag, "CodecWeightsError")
      assert.include(missing.message, missingKey)

      const lstmKey = "codec_model.decoder.layers.1.lstm.weight_hh_l1"
      const reshaped = new Map(ckpt.tensors)
      const t = reshaped.get(lstmKey)!
      reshaped.set(lstmKey, { ...t, shape: [t.shape[1]!, t.shape[0]!] })
      const misShaped = yield* Effect.flip(decoderFor(reshaped, config))
      assert.strictEqual(misShaped._tag, "CodecWeightsError")
      assert.include(misShaped.message, lstmKey)

      const noCodebook = yield* Effect.flip(decoderFor(withoutKeys(ckpt.tensors, (k) => k.startsWith("codec_model.quantizer.layers.7.")), config))
      assert.include(noCodebook.message, "quantizer.layers.7.codebook.embed")
    }).pipe(cpu))

  it.effect("bad codes fail with an InferenceError instead of reaching onnxruntime", () =>
    Effect.gen(function*() {
      const ckpt = yield* checkpoint()
      const decoder = yield* decoderFor(ckpt.tensors, ckpt.config.codec_config)
      const outOfRange = randomCodes(4)
      outOfRange[4 * 3 + 2] = 1024
      const e1 = yield* Effect.flip(decoder.decode(outOfRange, 4))
      assert.include(e1.message, "codebook 3, frame 2")
      const e2 = yield* Effect.flip(decoder.decode(randomCodes(4), 5))
      assert.include(e2.message, "expected 8 × 5")
      const e3 = yield* Effect.flip(decoder.decode(new Int32Array(0), 0))
      assert.include(e3.message, "positive integer")
    }).pipe(cpu))
})

const codebookIndex = (key: string) => /^codec_model\.quantizer\.layers\.(\d+)\.codebook\.embed$/.exec(key)?.[1]

/** `tensors` with codebooks `from`.. embedding every code to the zero vector. */
const withSilentCodebooks = (tensors: Weights, from: number): Weights =>
  new Map([...tensors].map(([key, t]) => {
    const k = codebookIndex(key)
    return [key, k !== undefined && Number(k) >= from ? make("F32", t.shape, new Uint8Array(4 * numel(t.shape))) : t]
  }))

/** The quantizer's output computed here: Σ over the first `codebooks` tables of the coded rows, [dim, frames]. */
const summedRows = (tensors: Weights, codes: Int32Array, frames: number, codebooks: number) => {
  const tables = Array.from({ length: codebooks }, (_, k) => toFloat32(tensors.get(`codec_model.quantizer.layers.${k}.codebook.embed`)!))
  const dim = tables[0]!.length / 1024
  const out = new Float32Array(dim * frames)
  for (let d = 0; d < dim; d++) {
    for (let t = 0; t < frames; t++) {
      let sum = 0
      tables.forEach((table, k) => (sum += table[codes[k * frames + t]! * dim + d]!))
      out[d * frames + t] = sum
    }
  }
  return out
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((worst, x, i) => Math.max(worst, Math.abs(x - b[i]!)), 0)

describe("EnCodec decoder with fewer codebooks (1.5 kbps and up)", () => {
  it.effect("2 codebooks decode like 8 whose codebooks 2..7 embed every code to zero, and unlike the 8 themselves", () =>
    Effect.gen(function*() {
      const ckpt = yield* checkpoint()
      const decoder = yield* decoderFor(ckpt.tensors, ckpt.config.codec_config)
      const silent = yield* decoderFor(withSilentCodebooks(ckpt.tensors, 2), ckpt.config.codec_config)
      const codes = randomCodes(FRAMES)
      const coarse = codes.subarray(0, 2 * FRAMES)

      assertSame(yield* decoder.embeddings(coarse, FRAMES, 2), yield* silent.embeddings(codes, FRAMES))
      const draft = yield* decoder.decode(coarse, FRAMES, 2)
      assertSame(draft, yield* silent.decode(codes, FRAMES), 1e-6)
      assert.isAbove(maxAbsDiff(draft, yield* decoder.decode(codes, FRAMES)), 1e-3, "codebooks 2..7 change the waveform")
    }).pipe(cpu))

  it.effect("the embeddings of n codebooks are the sum of the first n codebooks' rows, for n = 1..8", () =>
    Effect.gen(function*() {
      const ckpt = yield* checkpoint()
      const decoder = yield* decoderFor(ckpt.tensors, ckpt.config.codec_config)
      for (let n = 1; n <= 8; n++) {
        const codes = randomCodes(FRAMES, 11 + n, n)
        const embeddings = yield* decoder.embeddings(codes, FRAMES, n)
        assert.isAtMost(maxAbsDiff(embeddings, summedRows(ckpt.tensors, codes, FRAMES, n)), 1e-5, `${n} codebooks`)
      }
    }).pipe(cpu))

  it.effect("2 codebooks give frames × hopLength samples, like 8", () =>
    Effect.gen(function*() {
      const ckpt = yield* checkpoint()
      const decoder = yield* decoderFor(ckpt.tensors, ckpt.config.codec_config)
      for (const frames of [1, 7, FRAMES]) {
        const draft = yield* decoder.decode(randomCodes(frames, 3, 2), frames, 2)
        const full = yield* decoder.decode(randomCodes(frames, 3), frames, 8)
        assert.strictEqual(draft.length, frames * decoder.hopLength)
        assert.strictEqual(full.length, draft.length)
        assert.isTrue(draft.every(Number.isFinite))
      }
    }).pipe(cpu))

  it.effect("a bad codebook count or a length that does not match it is an InferenceError with a remediation; the session still decodes", () =>
    Effect.gen(function*() {
      const ckpt = yield* checkpoint()
      const decoder = yield* decoderFor(ckpt.tensors, ckpt.config.codec_config)
      const before = yield* decoder.decode(randomCodes(4, 5, 2), 4, 2)
      const failures = [
        [randomCodes(4, 5, 0), 0, "from 1 to 8, got 0"],
        [randomCodes(4, 5, 9), 9, "from 1 to 8, got 9"],
        [randomCodes(4, 5, 2), 2.5, "from 1 to 8, got 2.5"],
        [randomCodes(4, 5, 8), 2, "expected 2 × 4 = 8"],
        [randomCodes(4, 5, 2), 8, "expected 8 × 4 = 32"]
      ] as const
      for (const [codes, codebooks, message] of failures) {
        const e = yield* Effect.flip(decoder.decode(codes, 4, codebooks))
        assert.strictEqual(e._tag, "InferenceError")
        assert.include(e.message, message)
        assert.include(e.remediation, "codebooks from 1 to 8")
        assert.strictEqual(e.model, "codec")
      }
      assertSame(yield* decoder.decode(randomCodes(4, 5, 2), 4, 2), before)
      assert.strictEqual((yield* decoder.decode(randomCodes(4, 5), 4)).length, 4 * 320)
    }).pipe(cpu))
})
