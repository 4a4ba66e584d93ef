/**
 * Decode-step and fine-pass timings of the fp32 GPT graphs at bark-small
 * dimensions (12 layers, 12 heads, hidden 768, real vocabularies) on random
 * weights made in memory, with 2 intra-op threads.
 *
 *     node bench/gpt-step.ts
 *
 * Prints the median ms per semantic/coarse step at past lengths ~256 and
 * ~1000, and the seconds per fine pass over 1024 frames.
 */
import { Effect } from "effect"
import { cpus } from "node:os"
import { makeCausalGpt } from "../src/bark/gpt/causalLM.ts"
import { makeFineLM } from "../src/bark/gpt/fineLM.ts"
import type { Block, CausalGptWeights, FineGptWeights, Param } from "../src/bark/gpt/weights.ts"
import { InferenceBackend } from "../src/onnx/InferenceBackend.ts"

const H = 768
const HEADS = 12
const LAYERS = 12
const BLOCK = 1024
const STEPS = 24

let seed = 1
/** Uniform noise scaled like the Hugging Face initialiser (std ≈ 0.02). */
const param = (shape: ReadonlyArray<number>, scale = 0.035): Param => {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1))
  for (let i = 0; i < data.length; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    data[i] = (seed / 2 ** 32 - 0.5) * scale
  }
  return { data, shape }
}
const ones = (): Param => ({ data: new Float32Array(H).fill(1), shape: [H] })
const norm = (bias: boolean) => ({ weight: ones(), ...(bias ? { bias: param([H]) } : {}) })

const blocks = (normBias: boolean): Array<Block> =>
  Array.from({ length: LAYERS }, () => ({
    ln1: norm(normBias),
    attnQkv: { weight: param([3 * H, H]) },
    attnOut: { weight: param([H, H]) },
    ln2: norm(normBias),
    mlpIn: { weight: param([4 * H, H]) },
    mlpOut: { weight: param([H, 4 * H]) }
  }))

const causal = (vocabIn: number, vocabOut: number): CausalGptWeights => ({
  hiddenSize: H,
  numHeads: HEADS,
  blockSize: BLOCK,
  positionEmbedding: param([BLOCK, H]),
  blocks: blocks(false),
  lnFinal: norm(false),
  tokenEmbedding: param([vocabIn, H]),
  lmHead: param([vocabOut, H])
})

const fine = (): FineGptWeights => {
  const tokenEmbeddings = Array.from({ length: 8 }, () => param([1056, H]))
  return {
    hiddenSize: H,
    numHeads: HEADS,
    blockSize: BLOCK,
    positionEmbedding: param([BLOCK, H]),
    blocks: blocks(true),
    lnFinal: norm(true),
    nCodesGiven: 1,
    tokenEmbeddings,
    lmHeads: tokenEmbeddings.slice(1)
  }
}

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const stepTimes = Effect.fnUntraced(function*(name: string, weights: CausalGptWeights, vocab: number) {
  const backend = yield* InferenceBackend
  const t0 = performance.now()
  const gpt = yield* makeCausalGpt(name, weights, backend)
  console.log(`${name}: graph + session ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  for (const past of [256, 1000]) {
    const ids = Int32Array.from({ length: past }, (_, i) => (i * 31) % vocab)
    let state = (yield* gpt.prefill(ids)).state
    const times: Array<number> = []
    for (let s = 0; s < Math.min(STEPS, BLOCK - past); s++) {
      const t = performance.now()
      state = (yield* gpt.step(state, s % vocab)).state
      times.push(performance.now() - t)
    }
    console.log(`${name} step at past ${past}: median ${median(times.slice(3)).toFixed(1)} ms/token (${times.length - 3} steps)`)
  }
})

const program = Effect.gen(function*() {
  console.log(`CPU: ${cpus()[0]?.model} × ${cpus().length}; intra-op threads 2; fp32 weights and KV`)
  yield* Effect.scoped(stepTimes("semantic", causal(129_600, 10_048), 129_600))
  yield* Effect.scoped(stepTimes("coarse", causal(12_096, 12_096), 12_096))
  yield* Effect.scoped(Effect.gen(function*() {
    const model = yield* makeFineLM(fine(), yield* InferenceBackend)
    const codes = Int32Array.from({ length: 1024 * 8 }, (_, i) => i % 1024)
    const times: Array<number> = []
    for (let r = 0; r < 3; r++) {
      const t = performance.now()
      yield* model.run(codes, 2 + r)
      times.push(performance.now() - t)
    }
    console.log(`fine pass (1024 frames): ${times.map((t) => (t / 1000).toFixed(2)).join(", ")} s`)
  }))
})

Effect.runPromise(program.pipe(Effect.provide(InferenceBackend.cpu({ intraOpNumThreads: 2 })))).catch((e) => {
  console.error(e)
  process.exit(1)
})
