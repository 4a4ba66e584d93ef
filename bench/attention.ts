/**
 * Where a batched bark-small decode step goes, part by part, on onnxruntime's
 * CPU provider: 12 layers at hidden 768, 12 heads of 64, random data.
 *
 * - Attention alone, B sequences of one new token each over a past of P
 *   positions in a cache of capacity C: GroupQueryAttention over float32
 *   and float16 caches (present outputs not fetched, the graphs' old
 *   attention) against the MatMuls the causal graphs now use (keys
 *   transposed, read in place).
 * - The weight products alone (the q/k/v, output and MLP projections and
 *   the 10 048-row LM head) for M = 1, 2, 4, 8 rows: fp32 MatMul and q4
 *   MatMulNBits (accuracy level 4).
 *
 *   node bench/attention.ts      # writes bench/results/attention.md
 */
import * as fs from "node:fs"
import * as os from "node:os"
import { InferenceSession, Tensor } from "onnxruntime-node"
import { quantize } from "../src/onnx/blockQuant.ts"
import { float16Tensor } from "../src/onnx/float16.ts"
import { type DataType, float, GraphBuilder, type Value } from "../src/onnx/graph.ts"
import { coreCount } from "../src/onnx/InferenceBackend.ts"

const HIDDEN = 768
const HEADS = 12
const HEAD_DIM = HIDDEN / HEADS
const LAYERS = 12
const VOCAB = 10_048
const PAST = 300
const CAPACITY = 320
const RUNS = 40

/** Uniform values in [-scale/2, scale/2) (the timings do not depend on them). */
const noise = (n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => (Math.random() - 0.5) * scale)

/** Median ms of `RUNS` runs after 5 warm-up runs. */
const time = async (g: GraphBuilder, feeds: Record<string, Tensor>, fetches: ReadonlyArray<string>): Promise<number> => {
  const session = await InferenceSession.create(g.build().model, { intraOpNumThreads: coreCount(), graphOptimizationLevel: "all" })
  for (let i = 0; i < 5; i++) await session.run(feeds, [...fetches])
  const times: Array<number> = []
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    await session.run(feeds, [...fetches])
    times.push(performance.now() - t0)
  }
  await session.release()
  return times.sort((a, b) => a - b)[RUNS >> 1]!
}

type Attention = "gqa-fp32" | "gqa-fp16" | "matmul"

const attention = (kind: Attention, batch: number) => {
  const g = new GraphBuilder("attention")
  const feeds: Record<string, Tensor> = {}
  const fetches: Array<string> = []
  const element: DataType = kind === "gqa-fp16" ? "float16" : "float32"
  const cache = (name: string, dims: Array<number>) => {
    const size = dims.reduce((a, b) => a * b)
    feeds[name] = element === "float16"
      ? float16Tensor(new Uint16Array(size).fill(0x3000), dims)
      : new Tensor("float32", noise(size), dims)
    return g.input(name, element, dims)
  }
  const qkv = g.input("qkv", "float32", [batch, 1, 3 * HIDDEN])
  feeds["qkv"] = new Tensor("float32", noise(batch * 3 * HIDDEN), [batch, 1, 3 * HIDDEN])
  const heads = (i: number, perm: ReadonlyArray<number>) =>
    g.transpose(g.reshape(g.slice(qkv, [i * HIDDEN], [(i + 1) * HIDDEN], [2]), [0, 0, HEADS, HEAD_DIM]), perm)
  const bias = new Float32Array(batch * (CAPACITY + 1)).fill(-Infinity)
  for (let b = 0; b < batch; b++) {
    bias.fill(0, b * (CAPACITY + 1), b * (CAPACITY + 1) + PAST)
    bias[b * (CAPACITY + 1) + CAPACITY] = 0
  }
  feeds["bias"] = new Tensor("float32", bias, [batch, 1, 1, CAPACITY + 1])
  feeds["seqlens"] = new Tensor("int32", new Int32Array(batch).fill(PAST), [batch])
  feeds["total"] = new Tensor("int32", Int32Array.of(PAST + 1), [])
  const biasInput = g.input("bias", "float32", [batch, 1, 1, CAPACITY + 1])
  const seqlens = g.input("seqlens", "int32", [batch])
  const total = g.input("total", "int32", [])
  for (let l = 0; l < LAYERS; l++) {
    let out: Value
    if (kind === "matmul") {
      const key = cache(`k${l}`, [batch, HEADS, HEAD_DIM, CAPACITY])
      const value = cache(`v${l}`, [batch, HEADS, CAPACITY, HEAD_DIM])
      const q = heads(0, [0, 2, 1, 3])
      const weights = g.softmax(g.add(g.concat([g.matmul(q, key), g.matmul(q, heads(1, [0, 2, 3, 1]))], 3), biasInput))
      const cached = g.matmul(g.slice(weights, [0], [CAPACITY], [3]), value)
      out = g.add(cached, g.matmul(g.slice(weights, [CAPACITY], [CAPACITY + 1], [3]), heads(2, [0, 2, 1, 3])))
    } else {
      const packed = element === "float16" ? g.cast(qkv, "float16") : qkv
      const [o, presentKey, presentValue] = g.op(
        "GroupQueryAttention",
        [packed, null, null, cache(`k${l}`, [batch, HEADS, CAPACITY, HEAD_DIM]), cache(`v${l}`, [batch, HEADS, CAPACITY, HEAD_DIM]), seqlens, total],
        { num_heads: HEADS, kv_num_heads: HEADS, scale: float(1 / Math.sqrt(HEAD_DIM)) },
        [{ dtype: element }, { dtype: element, name: `present_k${l}` }, { dtype: element, name: `present_v${l}` }],
        "com.microsoft"
      )
      g.output(presentKey!)
      g.output(presentValue!)
      out = o!
    }
    fetches.push(g.output(out, `out${l}`).name)
  }
  return time(g, feeds, fetches)
}

type Weights = "fp32" | "q4"

const weightProducts = (kind: Weights, rows: number) => {
  const g = new GraphBuilder("weights")
  const linear = (name: string, x: Value, out: number, inp: number) => {
    const w = noise(out * inp, 0.1)
    return kind === "fp32"
      ? g.matmul(x, g.initializer(name, w, [inp, out]))
      : g.matmulNBits(x, name, quantize(w, out, inp, { bits: 4, blockSize: 32 }, "blocks"), 4)
  }
  let x = g.input("x", "float32", [rows, HIDDEN])
  for (let l = 0; l < LAYERS; l++) {
    const qkv = linear(`qkv${l}`, x, 3 * HIDDEN, HIDDEN)
    const attended = linear(`out${l}`, g.slice(qkv, [0], [HIDDEN], [1]), HIDDEN, HIDDEN)
    x = linear(`down${l}`, linear(`up${l}`, attended, 4 * HIDDEN, HIDDEN), HIDDEN, 4 * HIDDEN)
  }
  g.output(linear("head", x, VOCAB, HIDDEN), "logits")
  return time(g, { x: new Tensor("float32", noise(rows * HIDDEN), [rows, HIDDEN]) }, ["logits"])
}

const BATCHES = [1, 2, 4, 8]
const round = (ms: number) => Math.round(ms * 100) / 100
const lines = [
  `Parts of a batched bark-small decode step (\`node bench/attention.ts\`), ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model.trim()}, ${coreCount()} intra-op threads, Node ${process.version}. Median ms of ${RUNS} runs, 12 layers.`,
  "",
  `Attention of B sequences, one new token each, past ${PAST} positions in caches of capacity ${CAPACITY}:`,
  "",
  `| attention | ${BATCHES.map((b) => `B=${b}`).join(" | ")} |`,
  `|---|${BATCHES.map(() => "---:").join("|")}|`
]
for (const kind of ["gqa-fp32", "gqa-fp16", "matmul"] as const) {
  const row: Array<number> = []
  for (const b of BATCHES) row.push(round(await attention(kind, b)))
  lines.push(`| ${kind === "matmul" ? "MatMuls over the cache in place (keys transposed, float32)" : `GroupQueryAttention, ${kind.slice(4)} cache`} | ${row.join(" | ")} |`)
  console.log(lines.at(-1))
}
lines.push("", "The weight products alone (projections, MLP and LM head) for M rows, one per sequence:", "")
lines.push(`| weights | ${BATCHES.map((b) => `M=${b}`).join(" | ")} |`, `|---|${BATCHES.map(() => "---:").join("|")}|`)
for (const kind of ["fp32", "q4"] as const) {
  const row: Array<number> = []
  for (const m of BATCHES) row.push(round(await weightProducts(kind, m)))
  lines.push(`| ${kind === "fp32" ? "fp32 MatMul (prepacked)" : "q4 MatMulNBits, accuracy level 4"} | ${row.join(" | ")} |`)
  console.log(lines.at(-1))
}
fs.writeFileSync(new URL("./results/attention.md", import.meta.url), lines.join("\n") + "\n")
