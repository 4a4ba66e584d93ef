/**
 * Quantised Bark (int8, q4) and fp16: each graph computes exactly what its
 * own dequantised weights give in float32 (int8/q4 at accuracy level 0:
 * packing, scales and zero points right, whatever the quantisation noise; fp16
 * on the CPU, where onnxruntime computes it in float32), on the visible golden
 * case and on tiny checkpoints with awkward widths; the noise against float32
 * as the models run (accuracy level 4) stays within the bounds measured on the
 * golden case (docs/performance.md, "Quantised weights").
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { decodeBarkConfig } from "../../src/bark/config.ts"
import type { Dtype } from "../../src/bark/dtype.ts"
import { compareFormats, goldenCase, type LogitsDifference, type TeacherForcedInputs } from "../../src/dev/formatComparison.ts"
import { makeCausalGpt } from "../../src/bark/gpt/causalLM.ts"
import { dequantized, formatOf, fp32, quantized } from "../../src/bark/gpt/weightFormat.ts"
import { causalGptWeights } from "../../src/bark/gpt/weights.ts"
import { makeRandomCheckpoint, presets, type RandomCheckpointOptions, VOCAB } from "../../src/dev/randomCheckpoint.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"

const env = Layer.mergeAll(NodeServices.layer, InferenceBackend.cpu({ intraOpNumThreads: 2 }))
const golden = fileURLToPath(new URL("../../../shared/fixtures/golden/v1_small_mixed", import.meta.url))
type Reduced = Exclude<Dtype, "fp32">
const REDUCED: ReadonlyArray<Reduced> = ["int8", "q4", "fp16"]
const QUANTISED = ["int8", "q4"] as const

/**
 * Noise bounds at accuracy level 4 against fp32 on the golden case (random
 * weights), each about 1.5× the measured value (docs/performance.md).
 */
const NOISE: Record<Reduced, { readonly relL2: number; readonly top1: number }> = {
  int8: { relL2: 0.025, top1: 0.85 },
  q4: { relL2: 0.35, top1: 0.4 },
  fp16: { relL2: 0.001, top1: 0.99 }
}

const assertExact = (diffs: ReadonlyArray<LogitsDifference>, label: string) => {
  assert.sameMembers(diffs.map((d) => d.model), ["semantic", "coarse", "fine"])
  for (const d of diffs) {
    assert.isAbove(d.rows, 0)
    assert.isAtMost(d.maxAbs, 1e-4, `${label}, ${d.model}: max abs ${d.maxAbs}`)
  }
}

/** Deterministic ids below `vocab`. */
const ids = (length: number, vocab: number, seed: number) => Int32Array.from({ length }, (_, i) => (i * 7919 + seed * 104_729) % vocab)

const tinyCase = (sizes: Partial<RandomCheckpointOptions>) =>
  Effect.gen(function*() {
    const random = yield* makeRandomCheckpoint({ ...presets.tiny, ...sizes })
    const inputs: TeacherForcedInputs = {
      semantic: ids(12, VOCAB.semantic.input, 1),
      coarse: ids(10, VOCAB.coarse.input, 2),
      fine: ids(16 * 8, 1024, 3)
    }
    return { weights: random.tensors, config: yield* decodeBarkConfig(random.config), inputs }
  })

describe.skipIf(!existsSync(golden))("reduced-precision graphs on the golden case", () => {
  for (const dtype of REDUCED) {
    it.effect(`${dtype}: equal to the fp32 graph on the dequantised weights${dtype === "fp16" ? "" : " (accuracy level 0)"}`, () =>
      Effect.gen(function*() {
        const c = yield* goldenCase(golden)
        assertExact(yield* compareFormats(c.weights, c.config, c.inputs, formatOf(dtype, 0), dequantized(dtype)), dtype)
      }).pipe(Effect.provide(env)), 120_000)

    it.effect(`${dtype}: noise against fp32, as the models run, within the measured bounds`, () =>
      Effect.gen(function*() {
        const c = yield* goldenCase(golden)
        const bound = NOISE[dtype]
        for (const d of yield* compareFormats(c.weights, c.config, c.inputs, formatOf(dtype), fp32)) {
          assert.isAbove(d.relL2, 0, `${d.model}: a model that equals fp32 was not converted`)
          assert.isAtMost(d.relL2, bound.relL2, `${d.model} relative L2 ${d.relL2}`)
          assert.isAtLeast(d.top1Agreement, bound.top1, `${d.model} top-1 agreement ${d.top1Agreement}`)
        }
      }).pipe(Effect.provide(env)), 120_000)
  }

  for (const dtype of QUANTISED) {
    it.effect(`${dtype}: accuracy level 4's int8 activations add error on top of the weights' own`, () =>
      Effect.gen(function*() {
        const c = yield* goldenCase(golden)
        const extra = yield* compareFormats(c.weights, c.config, c.inputs, quantized(dtype, 4), dequantized(dtype))
        for (const d of extra) {
          assert.isAbove(d.relL2, 0, d.model)
          assert.isAtMost(d.relL2, 0.02, `${d.model}: level 4 vs its dequantised reference ${d.relL2}`)
        }
      }).pipe(Effect.provide(env)), 120_000)
  }
})

describe("reduced-precision graphs on tiny checkpoints", () => {
  const shapes = {
    "widths 16 (heads of 8)": {},
    "widths 12, 20 and 12 (heads 6, 20 and 4; blocks cut short)": {
      semantic: { hidden: 12, heads: 2, layers: 2 },
      coarse: { hidden: 20, heads: 1, layers: 1 },
      fine: { hidden: 12, heads: 3, layers: 1 },
      bias: true
    }
  } as const
  for (const [name, sizes] of Object.entries(shapes)) {
    for (const dtype of REDUCED) {
      it.effect(`${dtype}, ${name}: equal to the fp32 graph on the dequantised weights`, () =>
        Effect.gen(function*() {
          const c = yield* tinyCase(sizes)
          assertExact(yield* compareFormats(c.weights, c.config, c.inputs, formatOf(dtype, 0), dequantized(dtype)), `${dtype} ${name}`)
          const off = yield* compareFormats(c.weights, c.config, c.inputs, formatOf(dtype, 0), fp32)
          assert.isTrue(off.every((d) => d.maxAbs > 0), "the weights were quantised")
        }).pipe(Effect.provide(env)), 60_000)
    }
  }
})

describe("the KV cache of reduced-precision causal graphs", () => {
  for (const dtype of REDUCED) {
    it.effect(`${dtype}: decoding step by step from the cache gives the whole sequence's logits`, () =>
      Effect.gen(function*() {
        const c = yield* tinyCase({ semantic: { hidden: 12, heads: 2, layers: 2 } })
        const backend = yield* InferenceBackend
        const w = yield* causalGptWeights(c.weights, "semantic", c.config.semantic_config)
        const format = formatOf(dtype, 0)
        const whole = yield* makeCausalGpt("semantic", w, backend, { logitsFor: "all", format })
        const stepwise = yield* makeCausalGpt("semantic", w, backend, { format })
        const input = c.inputs.semantic
        const all = (yield* whole.prefill(input)).logits
        const vocab = whole.outputVocabSize
        let step = yield* stepwise.prefill(input.subarray(0, 4))
        for (let t = 4; t <= input.length; t++) {
          const expected = all.subarray((t - 1) * vocab, t * vocab)
          let worst = 0
          for (let i = 0; i < vocab; i++) worst = Math.max(worst, Math.abs(step.logits[i]! - expected[i]!))
          assert.isAtMost(worst, 1e-5, `position ${t - 1}`)
          if (t < input.length) step = yield* stepwise.step(step.state, input[t]!)
        }
      }).pipe(Effect.scoped, Effect.provide(env)), 60_000)
  }
})
