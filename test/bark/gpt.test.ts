/**
 * Bark's GPT graphs on tiny random checkpoints (written and re-read through
 * safetensors), checked against a plain float64 JavaScript forward pass
 * written from the reference equations, and against themselves (KV cache vs
 * whole sequence).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { decodeBarkConfig } from "../../src/bark/config.ts"
import { makeCausalGpt, MERGED_FIELD } from "../../src/bark/gpt/causalLM.ts"
import { makeFineLM } from "../../src/bark/gpt/fineLM.ts"
import {
  type Block,
  causalGptWeights,
  type CausalGptWeights,
  fineGptWeights,
  type FineGptWeights,
  type Linear,
  type Norm
} from "../../src/bark/gpt/weights.ts"
import { makeRandomCheckpoint, presets, type RandomCheckpointOptions } from "../../src/dev/randomCheckpoint.ts"
import { decode, encode } from "../../src/checkpoint/safetensors.ts"
import type { Weights } from "../../src/checkpoint/Tensor.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"

const Cpu = InferenceBackend.cpu({ intraOpNumThreads: 2 })

/** A tiny checkpoint, round-tripped through the safetensors encoder and decoder. */
const checkpoint = (overrides: Partial<RandomCheckpointOptions> = {}) =>
  Effect.gen(function*() {
    const random = yield* makeRandomCheckpoint({ ...presets.tiny, ...overrides })
    const stored = yield* decode(encode(random.tensors))
    const config = yield* decodeBarkConfig(random.config)
    return { tensors: stored.tensors, config }
  })

// ------------------------------------------------------- float64 reference

type Matrix = Array<Float64Array>

const layerNorm = (x: Matrix, n: Norm): Matrix =>
  x.map((row) => {
    const mean = row.reduce((a, b) => a + b, 0) / row.length
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * n.weight.data[i]! + (n.bias?.data[i] ?? 0))
  })

const linear = (x: Matrix, l: Linear): Matrix => {
  const [out, inp] = l.weight.shape as [number, number]
  return x.map((row) =>
    Float64Array.from({ length: out }, (_, o) => {
      let s = l.bias?.data[o] ?? 0
      for (let i = 0; i < inp; i++) s += row[i]! * l.weight.data[o * inp + i]!
      return s
    })
  )
}

/** erf by its Taylor series (double precision for |x| <= 5; beyond that erf is ±1 to 1e-12). */
const erf = (x: number) => {
  if (Math.abs(x) > 5) return Math.sign(x)
  let sum = 0
  let term = x
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1)
    term *= (-x * x) / (n + 1)
  }
  return (2 / Math.sqrt(Math.PI)) * sum
}
const gelu = (x: Matrix): Matrix => x.map((row) => row.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))))

const add = (a: Matrix, b: Matrix): Matrix => a.map((row, t) => row.map((v, i) => v + b[t]![i]!))

const attention = (qkv: Matrix, heads: number, causal: boolean): Matrix => {
  const h = qkv[0]!.length / 3
  const d = h / heads
  return qkv.map((qRow, t) => {
    const out = new Float64Array(h)
    for (let head = 0; head < heads; head++) {
      const keys = causal ? t + 1 : qkv.length
      const scores = Array.from({ length: keys }, (_, s) => {
        let dot = 0
        for (let i = 0; i < d; i++) dot += qRow[head * d + i]! * qkv[s]![h + head * d + i]!
        return dot / Math.sqrt(d)
      })
      const max = Math.max(...scores)
      const p = scores.map((s) => Math.exp(s - max))
      const total = p.reduce((a, b) => a + b, 0)
      for (let s = 0; s < keys; s++) {
        for (let i = 0; i < d; i++) out[head * d + i]! += (p[s]! / total) * qkv[s]![2 * h + head * d + i]!
      }
    }
    return out
  })
}

const blocks = (x: Matrix, bs: ReadonlyArray<Block>, heads: number, causal: boolean): Matrix =>
  bs.reduce((h, b) => {
    const a = add(h, linear(attention(linear(layerNorm(h, b.ln1), b.attnQkv), heads, causal), b.attnOut))
    return add(a, linear(gelu(linear(layerNorm(a, b.ln2), b.mlpIn)), b.mlpOut))
  }, x)

const row = (table: { readonly data: Float32Array; readonly shape: ReadonlyArray<number> }, index: number) => {
  const width = table.shape[1]!
  return Float64Array.from(table.data.subarray(index * width, (index + 1) * width))
}

/** Logits of every position for explicit input embeddings (positions 0..). */
const referenceCausal = (w: CausalGptWeights, embeddings: Matrix): Matrix => {
  const x = embeddings.map((e, t) => e.map((v, i) => v + row(w.positionEmbedding, t)[i]!))
  return linear(layerNorm(blocks(x, w.blocks, w.numHeads, true), w.lnFinal), { weight: w.lmHead })
}

const referenceFine = (w: FineGptWeights, codes: Int32Array, predIdx: number): Matrix => {
  const n = w.tokenEmbeddings.length
  const x = Array.from({ length: codes.length / n }, (_, t) => {
    const e = row(w.positionEmbedding, t)
    for (let k = 0; k <= predIdx; k++) row(w.tokenEmbeddings[k]!, codes[t * n + k]!).forEach((v, i) => (e[i]! += v))
    return e
  })
  return linear(layerNorm(blocks(x, w.blocks, w.numHeads, false), w.lnFinal), { weight: w.lmHeads[predIdx - w.nCodesGiven]! })
}

const maxDiff = (actual: Float32Array, expected: ArrayLike<number>) => {
  assert.strictEqual(actual.length, expected.length, "length")
  let worst = 0
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!))
  return worst
}
const flat = (m: Matrix) => m.flatMap((r) => Array.from(r))

const randomIds = (n: number, vocab: number, seed: number) => Int32Array.from({ length: n }, (_, i) => (i * 7919 + seed * 104729) % vocab)

// ----------------------------------------------------------------- tests

describe("causal GPT graph", () => {
  const variants: ReadonlyArray<[string, Partial<RandomCheckpointOptions>]> = [
    ["F32, no bias", {}],
    ["bias on", { bias: true, seed: 2 }],
    ["F16 storage", { dtype: "F16", seed: 3 }],
    ["legacy config", { configForm: "legacy", seed: 4 }],
    // Head sizes other than 64, not multiples of 8.
    ["head size 4 (semantic) and 6 (coarse), bias on", {
      semantic: { hidden: 16, heads: 4, layers: 2 },
      coarse: { hidden: 12, heads: 2, layers: 3 },
      bias: true,
      seed: 5
    }],
    ["head size 20 (semantic) and 12 (coarse), F16", {
      semantic: { hidden: 40, heads: 2, layers: 1 },
      coarse: { hidden: 36, heads: 3, layers: 2 },
      dtype: "F16",
      seed: 6
    }]
  ]

  for (const [name, options] of variants) {
    it.effect(`${name}: whole-sequence logits match the reference; KV steps match the whole sequence`, () =>
      Effect.gen(function*() {
        const { tensors, config } = yield* checkpoint(options)
        for (const [model, prefix, gptConfig] of [
          ["semantic", "semantic", config.semantic_config],
          ["coarse", "coarse_acoustics", config.coarse_acoustics_config]
        ] as const) {
          const w = yield* causalGptWeights(tensors, prefix, gptConfig)
          assert.strictEqual(w.blocks[0]!.attnQkv.bias !== undefined, gptConfig.bias, "Linear bias iff config.bias")
          const backend = yield* InferenceBackend
          const every = yield* makeCausalGpt(model, w, backend, { logitsFor: "all" })
          const last = yield* makeCausalGpt(model, w, backend)
          const ids = randomIds(9, gptConfig.input_vocab_size, 5)
          const vocab = gptConfig.output_vocab_size

          const whole = (yield* every.prefill(ids)).logits
          const reference = flat(referenceCausal(w, Array.from(ids, (id) => row(w.tokenEmbedding, id))))
          assert.isBelow(maxDiff(whole, reference), 1e-4, `${model} whole sequence vs reference`)

          let step = yield* last.prefill(ids.subarray(0, 5))
          for (let t = 5; ; t++) {
            const expected = whole.subarray((t - 1) * vocab, t * vocab)
            assert.isBelow(maxDiff(step.logits, expected), 1e-4, `${model} cached logits at position ${t - 1}`)
            if (t === ids.length) break
            step = yield* last.step(step.state, ids[t]!)
          }
          assert.strictEqual(step.state.length, ids.length)
        }
      }).pipe(Effect.provide(Cpu)))
  }

  it.effect("merge_context adds the text and history embeddings slot by slot", () =>
    Effect.gen(function*() {
      const { tensors, config } = yield* checkpoint()
      const w = yield* causalGptWeights(tensors, "semantic", config.semantic_config)
      const every = yield* makeCausalGpt("semantic", w, yield* InferenceBackend, { logitsFor: "all" })
      const ids = randomIds(2 * MERGED_FIELD + 3, config.semantic_config.input_vocab_size, 11)
      const merged = (yield* every.prefill(ids, { mergeContext: true })).logits

      const embeddings = Array.from({ length: ids.length - MERGED_FIELD }, (_, t) =>
        t < MERGED_FIELD
          ? row(w.tokenEmbedding, ids[t]!).map((v, i) => v + row(w.tokenEmbedding, ids[MERGED_FIELD + t]!)[i]!)
          : row(w.tokenEmbedding, ids[t + MERGED_FIELD]!))
      assert.isBelow(maxDiff(merged, flat(referenceCausal(w, embeddings))), 1e-4)
    }).pipe(Effect.provide(Cpu)))

  it.effect("refuses stale states, unknown ids and sequences beyond the block size", () =>
    Effect.gen(function*() {
      const { tensors, config } = yield* checkpoint()
      const w = yield* causalGptWeights(tensors, "coarse_acoustics", config.coarse_acoustics_config)
      const gpt = yield* makeCausalGpt("coarse", w, yield* InferenceBackend)
      const first = yield* gpt.prefill(Int32Array.of(1, 2, 3))
      yield* gpt.step(first.state, 4)
      const stale = yield* Effect.flip(gpt.step(first.state, 5))
      assert.include(stale.message, "stale")
      const unknown = yield* Effect.flip(gpt.prefill(Int32Array.of(1, 12_096)))
      assert.include(unknown.message, "12096")
      const tooLong = yield* Effect.flip(gpt.prefill(new Int32Array(w.blockSize + 1)))
      assert.include(tooLong.message, `${w.blockSize}`)
      const shortMerge = yield* Effect.flip(gpt.prefill(new Int32Array(100), { mergeContext: true }))
      assert.include(shortMerge.message, "merge_context")
    }).pipe(Effect.provide(Cpu)))
})

describe("fine GPT graph", () => {
  it.effect("one head of size 20 and two of size 6 match the reference", () =>
    Effect.gen(function*() {
      for (const [fineSize, seed] of [[{ hidden: 20, heads: 1, layers: 2 }, 7], [{ hidden: 12, heads: 2, layers: 1 }, 8]] as const) {
        const { tensors, config } = yield* checkpoint({ fine: fineSize, bias: seed === 7, seed })
        const w = yield* fineGptWeights(tensors, config.fine_acoustics_config)
        const fine = yield* makeFineLM(w, yield* InferenceBackend)
        const codes = Int32Array.from({ length: fine.windowSize * fine.nCodes }, (_, i) => (i * 131) % 1024)
        const logits = yield* fine.run(codes, 5)
        assert.isBelow(maxDiff(logits, flat(referenceFine(w, codes, 5))), 1e-4, `fine ${fineSize.hidden}/${fineSize.heads}`)
      }
    }).pipe(Effect.provide(Cpu)))

  it.effect("logits match the reference for pred_idx 2 and 7; omitted tied heads give the same model", () =>
    Effect.gen(function*() {
      const stored = yield* checkpoint({ bias: true, seed: 6 })
      const omitted = yield* checkpoint({ bias: true, seed: 6, fineHeads: "omitted" })
      assert.isFalse(omitted.tensors.has("fine_acoustics.lm_heads.0.weight"))
      const w = yield* fineGptWeights(stored.tensors, stored.config.fine_acoustics_config)
      const wTied = yield* fineGptWeights(omitted.tensors, omitted.config.fine_acoustics_config)
      const backend = yield* InferenceBackend
      const fine = yield* makeFineLM(w, backend)
      const fineTied = yield* makeFineLM(wTied, backend)
      const codes = Int32Array.from({ length: fine.windowSize * fine.nCodes }, (_, i) => (i % 8 > 4 ? 1024 : (i * 37) % 1024))
      for (const predIdx of [2, 7]) {
        const logits = yield* fine.run(codes, predIdx)
        assert.isBelow(maxDiff(logits, flat(referenceFine(w, codes, predIdx))), 1e-4, `pred_idx ${predIdx}`)
        assert.isBelow(maxDiff(yield* fineTied.run(codes, predIdx), logits), 1e-6, `tied heads, pred_idx ${predIdx}`)
      }
      const bad = yield* Effect.flip(fine.run(codes, 0))
      assert.include(bad.message, "pred_idx 0")
      const ragged = yield* Effect.flip(fine.run(codes.subarray(3), 2))
      assert.include(ragged.message, "1 to 1024 frames")
      const tooLong = yield* Effect.flip(fine.run(new Int32Array(codes.length + fine.nCodes), 2))
      assert.include(tooLong.message, "1 to 1024 frames")
      // A shorter window is a valid (non-causal) input of its own: logits for each of its frames.
      const short = yield* fine.run(codes.subarray(0, 16 * fine.nCodes), 2)
      assert.strictEqual(short.length, 16 * fine.outputVocabSize)
      assert.isBelow(maxDiff(short, flat(referenceFine(w, codes.subarray(0, 16 * fine.nCodes), 2))), 1e-4)
    }).pipe(Effect.provide(Cpu)))
})

describe("GPT weights", () => {
  const without = (tensors: Weights, name: string): Weights => new Map([...tensors].filter(([k]) => k !== name))

  it.effect("a missing tensor is a typed error naming it", () =>
    Effect.gen(function*() {
      const { tensors, config } = yield* checkpoint()
      const name = "semantic.layers.1.mlp.in_proj.weight"
      const error = yield* Effect.flip(causalGptWeights(without(tensors, name), "semantic", config.semantic_config))
      assert.strictEqual(error._tag, "GptWeightsError")
      assert.strictEqual(error.tensor, name)
      assert.include(error.message, "missing")
      const fineNorm = "fine_acoustics.layernorm_final.bias"
      const fine = yield* Effect.flip(fineGptWeights(without(tensors, fineNorm), config.fine_acoustics_config))
      assert.strictEqual(fine.tensor, fineNorm)
    }))

  it.effect("a wrong shape is a typed error with both shapes", () =>
    Effect.gen(function*() {
      const { tensors, config } = yield* checkpoint()
      const name = "coarse_acoustics.layers.0.attn.out_proj.weight"
      const original = tensors.get(name)!
      const reshaped = new Map(tensors).set(name, { ...original, shape: [8, 32] })
      const error = yield* Effect.flip(causalGptWeights(reshaped, "coarse_acoustics", config.coarse_acoustics_config))
      assert.strictEqual(error.tensor, name)
      assert.include(error.message, "[8, 32]")
      assert.include(error.message, "[16, 16]")
    }))

  it.effect("bias tensors are required when the config says bias", () =>
    Effect.gen(function*() {
      const { tensors, config } = yield* checkpoint()
      const error = yield* Effect.flip(causalGptWeights(tensors, "semantic", { ...config.semantic_config, bias: true }))
      assert.strictEqual(error.tensor, "semantic.layers.0.layernorm_1.bias")
    }))
})
