/**
 * Quantisation noise report: for every golden case (../shared/fixtures/golden
 * and test/fixtures/golden) and each reduced dtype, the three GPTs' logits
 * on the case's teacher-forced inputs (src/dev/formatComparison.ts) compared
 * three ways:
 *
 * - accuracy level 0 against the fp32 graph on the dequantised weights: the
 *   exactness check (packing, scales, zero points), expected ~0;
 * - accuracy level 4 against the same reference: the extra error of int8
 *   activations;
 * - accuracy level 4 against fp32: what the models run with, all noise.
 *
 * fp16 is compared with its rounded weights and with fp32 (on a CPU
 * onnxruntime computes it in float32, so the first is ~0 here).
 *
 * Writes a Markdown table to stdout and bench/results/quant-noise.md.
 *
 *   node bench/quant-noise.ts
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Dtype } from "../src/bark/dtype.ts"
import { compareFormats, goldenCase, type LogitsDifference } from "../src/dev/formatComparison.ts"
import { dequantized, fp16, fp32, quantized } from "../src/bark/gpt/weightFormat.ts"
import { writeAtomic } from "../src/files/writeAtomic.ts"
import { InferenceBackend } from "../src/onnx/InferenceBackend.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const roots = [path.resolve(here, "../../shared/fixtures/golden"), path.resolve(here, "../test/fixtures/golden")]
const cases = roots.flatMap((root) =>
  fs.existsSync(root)
    ? fs.readdirSync(root).filter((name) => fs.existsSync(path.join(root, name, "config.json"))).map((name) => path.join(root, name))
    : []
)

const fmt = (x: number) => (x === 0 ? "0" : x < 1e-3 ? x.toExponential(1) : x.toPrecision(3))
const row = (c: string, dtype: Dtype, comparison: string, d: LogitsDifference) =>
  `| ${c} | ${dtype} | ${comparison} | ${d.model} | ${d.rows} | ${fmt(d.maxAbs)} | ${fmt(d.relL2 * 100)} % | ${(d.top1Agreement * 100).toFixed(1)} % |`

const program = Effect.gen(function*() {
  const lines = [
    "| case | dtype | comparison | sub-model | rows | max abs | rel. L2 | top-1 agreement |",
    "|---|---|---|---|---:|---:|---:|---:|"
  ]
  for (const dir of cases) {
    const c = yield* goldenCase(dir)
    const name = path.basename(dir)
    for (const dtype of ["int8", "q4", "fp16"] as const) {
      const comparisons = dtype === "fp16"
        ? [["vs rounded weights", fp16, dequantized(dtype)], ["vs fp32", fp16, fp32]] as const
        : [
          ["level 0 vs dequantised", quantized(dtype, 0), dequantized(dtype)],
          ["level 4 vs dequantised", quantized(dtype, 4), dequantized(dtype)],
          ["level 4 vs fp32", quantized(dtype, 4), fp32]
        ] as const
      for (const [label, a, b] of comparisons) {
        for (const d of yield* compareFormats(c.weights, c.config, c.inputs, a, b)) lines.push(row(name, dtype, label, d))
      }
    }
  }
  const table = lines.join("\n")
  yield* Console.log(table)
  const out = path.resolve(here, "results/quant-noise.md")
  yield* writeAtomic(out, new TextEncoder().encode(
    `# Quantisation noise on the golden cases\n\n\`node bench/quant-noise.ts\`; logits of the teacher-forced inputs (semantic and coarse: every position; fine: every predicted codebook of the window). The golden cases have random weights: the noise on real Bark weights is likely lower for int8, and is not known here for q4.\n\n${table}\n`
  ))
})

NodeRuntime.runMain(program.pipe(Effect.provide(Layer.mergeAll(NodeServices.layer, InferenceBackend.cpu({ intraOpNumThreads: 2 })))))
