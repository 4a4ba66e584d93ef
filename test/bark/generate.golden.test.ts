/**
 * The generation algorithms against suno-ai/bark's own end-to-end runs on the
 * golden cases (greedy sampling): semantic, coarse and fine tokens must be
 * identical, the waveform within the cases' tolerance.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { makeCodecDecoder } from "../../src/bark/codec/decoder.ts"
import { loadBarkConfig } from "../../src/bark/config.ts"
import { generateAudio, type GenerateOptions } from "../../src/bark/generate/generate.ts"
import { argmax } from "../../src/bark/generate/sampling.ts"
import { makeCausalGpt } from "../../src/bark/gpt/causalLM.ts"
import { makeFineLM } from "../../src/bark/gpt/fineLM.ts"
import { causalGptWeights, fineGptWeights } from "../../src/bark/gpt/weights.ts"
import { voiceFromNpz } from "../../src/bark/voices.ts"
import { decodeNpy } from "../../src/checkpoint/npy.ts"
import { decode as decodeSafetensors } from "../../src/checkpoint/safetensors.ts"
import { toFloat32, toInt32 } from "../../src/checkpoint/Tensor.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"
import { NodeServices } from "@effect/platform-node"

const goldenRoot = fileURLToPath(new URL("../../../shared/fixtures/golden/", import.meta.url))
const cases = existsSync(goldenRoot)
  ? readdirSync(goldenRoot, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(`${goldenRoot}${e.name}/generation_info.json`))
    .map((e) => e.name)
  : []

interface RunParams {
  readonly semantic: { temp: number; top_k: number | null; top_p: number | null; min_eos_p: number | null; max_gen_duration_s: number | null }
  readonly coarse: { temp: number; top_k: number | null; top_p: number | null; max_coarse_history: number; sliding_window_len: number }
  readonly fine: { temp: number | null }
}

/** generation_info.json's parameters, under Bark's names, as generateAudio options. */
const optionsOf = (p: RunParams): GenerateOptions => ({
  sampler: argmax,
  semantic: {
    temp: p.semantic.temp,
    topK: p.semantic.top_k,
    topP: p.semantic.top_p,
    minEosP: p.semantic.min_eos_p,
    maxGenDurationS: p.semantic.max_gen_duration_s
  },
  coarse: {
    temp: p.coarse.temp,
    topK: p.coarse.top_k,
    topP: p.coarse.top_p,
    maxCoarseHistory: p.coarse.max_coarse_history,
    slidingWindowLen: p.coarse.sliding_window_len
  },
  fine: { temp: p.fine.temp }
})

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0)

describe("generateAudio: golden end-to-end runs", () => {
  for (const name of cases) {
    const dir = `${goldenRoot}${name}/`
    it.effect(`${name}: tokens of every stage and the waveform`, () =>
      Effect.gen(function*() {
        const npy = (file: string) => decodeNpy(readFileSync(dir + file), file)
        const info = JSON.parse(readFileSync(`${dir}generation_info.json`, "utf8")) as {
          e2e_params: RunParams
          e2e_hist_params: RunParams
        }
        const config = yield* loadBarkConfig(`${dir}config.json`)
        const weights = (yield* decodeSafetensors(readFileSync(`${dir}model.safetensors`))).tensors
        const backend = yield* InferenceBackend
        const models = {
          semantic: yield* makeCausalGpt("semantic", yield* causalGptWeights(weights, "semantic", config.semantic_config), backend),
          coarse: yield* makeCausalGpt(
            "coarse",
            yield* causalGptWeights(weights, "coarse_acoustics", config.coarse_acoustics_config),
            backend
          ),
          fine: yield* makeFineLM(yield* fineGptWeights(weights, config.fine_acoustics_config), backend),
          codec: yield* makeCodecDecoder(weights, config.codec_config, backend)
        }
        const voice = yield* voiceFromNpz("voice_prompt.npz", readFileSync(`${dir}voice_prompt.npz`))

        for (const [prefix, params, history] of [
          ["e2e", info.e2e_params, undefined],
          ["e2e_hist", info.e2e_hist_params, voice]
        ] as const) {
          const textIds = toInt32(yield* npy(`${prefix}_text_token_ids.npy`))
          const out = yield* generateAudio(models, { textIds }, { ...optionsOf(params), voice: history })
          const expected = (stage: string) => Effect.map(npy(`${prefix}_${stage}_tokens.npy`), (t) => Array.from(toInt32(t)))
          assert.deepStrictEqual(Array.from(out.semantic.tokens), yield* expected("semantic"), `${prefix} semantic`)
          assert.deepStrictEqual(Array.from(out.coarse.data), yield* expected("coarse"), `${prefix} coarse`)
          assert.deepStrictEqual(Array.from(out.fine.data), yield* expected("fine"), `${prefix} fine`)
          const waveform = toFloat32(yield* npy(`${prefix}_waveform.npy`))
          assert.strictEqual(out.audio.length, waveform.length)
          assert.isAtMost(maxAbsDiff(out.audio, waveform), 1e-4, `${prefix} waveform`)
        }
      }).pipe(
        Effect.scoped,
        Effect.provide([InferenceBackend.cpu({ intraOpNumThreads: 2 }), NodeServices.layer])
      ), 120_000)
  }
})
