/**
 * The batching benchmark (`bark-pipeline bench --batch 1,2,4,8`): for each
 * batch size N, N semantic sequences and then N coarse sequences decoded
 * together (greedy, fixed lengths, distinct inputs) on the benchmark's
 * models, as the engine's scheduler decodes them. It reports per stage the
 * time of one batched step (`ms_per_step`, which is also the time between
 * two tokens of one sequence, the latency each sequence sees), the aggregate
 * decoding rate of all N sequences (`tokens_per_second_aggregate`, steady
 * state) and the overall rate including the prefills, and whether sequence
 * 0's tokens are the same as when it is decoded alone.
 *
 * @since 0.4.0
 */
import { Effect } from "effect"
import type { Dtype } from "../bark/dtype.ts"
import { openBenchModels, pattern, round, semanticLengthFor } from "./bench.ts"
import * as Batch from "../bark/generate/batch.ts"
import { coarseDecoding } from "../bark/generate/coarse.ts"
import { SEMANTIC_RATE_HZ, SEMANTIC_VOCAB_SIZE } from "../bark/generate/constants.ts"
import { argmax } from "../bark/generate/sampling.ts"
import { semanticDecoding } from "../bark/generate/semantic.ts"
import type { CausalLM } from "../bark/models.ts"

export interface BatchStageFigures {
  readonly batch: number
  /** Tokens per sequence. */
  readonly tokens: number
  readonly seconds: number
  /** One batched decoding step: the time between two tokens of each sequence. */
  readonly ms_per_step: number
  /** Tokens of all sequences per second while decoding (steps only). */
  readonly tokens_per_second_aggregate: number
  /** Tokens of all sequences per second, prefills included. */
  readonly tokens_per_second_overall: number
  /** Sequence 0's tokens equal those it gets alone (batch 1). */
  readonly identical_to_alone: boolean
}

export interface BatchBenchReport {
  readonly model: string
  readonly dtype: Dtype
  readonly semantic: ReadonlyArray<BatchStageFigures>
  readonly coarse: ReadonlyArray<BatchStageFigures>
  /** Aggregate tokens/s at the largest batch over batch 1, per stage. */
  readonly speedup: { readonly semantic: number; readonly coarse: number }
  /** The session options a batching engine opens with (on unless BARK_ORT_PREPACK / BARK_ORT_CPU_ARENA say otherwise). */
  readonly prepack: boolean
  readonly cpu_arena: boolean
  readonly peak_rss_mb: number
  readonly node: string
}

/** Decodes `decodings` in one scheduler of `maxBatch` and times the steps. */
const timedBatch = <A>(model: CausalLM, decodings: ReadonlyArray<Batch.Decoding<A>>, maxBatch: number) =>
  Effect.scoped(Effect.gen(function*() {
    let first = 0
    let last = 0
    let steps = 0
    const scheduler = yield* Batch.make(model, {
      maxBatch,
      onStep: () =>
        Effect.sync(() => {
          last = performance.now()
          if (steps++ === 0) first = last
        })
    })
    const start = performance.now()
    const results = yield* Effect.forEach(decodings, (d) => scheduler.submit(d), { concurrency: "unbounded" })
    return { results, seconds: (performance.now() - start) / 1000, steps, stepMs: steps > 1 ? (last - first) / (steps - 1) : 0 }
  }))

const figures = (batch: number, tokens: number, run: { readonly seconds: number; readonly stepMs: number }, identical: boolean): BatchStageFigures => ({
  batch,
  tokens,
  seconds: round(run.seconds),
  ms_per_step: round(run.stepMs),
  tokens_per_second_aggregate: round((batch * 1000) / run.stepMs),
  tokens_per_second_overall: round((batch * tokens) / run.seconds),
  identical_to_alone: identical
})

export const benchmarkBatch = Effect.fn("bark.benchmarkBatch")(function*(options: {
  readonly sizes: ReadonlyArray<number>
  readonly semanticTokens: number
  readonly coarseTokens: number
  readonly model?: string | undefined
  readonly dtype?: Dtype | undefined
}) {
  const { model, dtype, load, memory } = yield* openBenchModels({ ...options, batching: true })
  const models = load.value
  const semanticLength = semanticLengthFor(options.coarseTokens)
  const semanticOf = (i: number) =>
    semanticDecoding(pattern(32, 1000, 13 + i), {
      sampler: argmax,
      allowEarlyStop: false,
      maxGenDurationS: (options.semanticTokens - 0.5) / SEMANTIC_RATE_HZ
    })
  const coarseOf = (i: number) => coarseDecoding(pattern(semanticLength, SEMANTIC_VOCAB_SIZE, 37 + i), { sampler: argmax })

  // Warm-up: one of each, untimed.
  yield* Batch.decodeAll(models.semantic, [yield* semanticOf(0)], 1)
  yield* Batch.decodeAll(models.coarse, [yield* coarseOf(0)], 1)

  const semantic: Array<BatchStageFigures> = []
  const coarse: Array<BatchStageFigures> = []
  let aloneSemantic: ReadonlyArray<number> | undefined
  let aloneCoarse: ReadonlyArray<number> | undefined
  for (const n of options.sizes) {
    const ids = Array.from({ length: n }, (_, i) => i)
    const s = yield* timedBatch(models.semantic, yield* Effect.forEach(ids, semanticOf), n)
    const sTokens = Array.from(s.results[0]!.tokens)
    aloneSemantic ??= sTokens
    semantic.push(figures(n, sTokens.length, s, sTokens.join() === aloneSemantic.join()))
    const c = yield* timedBatch(models.coarse, yield* Effect.forEach(ids, coarseOf), n)
    const cTokens = Array.from(c.results[0]!.data)
    aloneCoarse ??= cTokens
    coarse.push(figures(n, cTokens.length, c, cTokens.join() === aloneCoarse.join()))
  }
  const gain = (rows: ReadonlyArray<BatchStageFigures>) => round(rows.at(-1)!.tokens_per_second_aggregate / rows[0]!.tokens_per_second_aggregate)
  return {
    model,
    dtype,
    semantic,
    coarse,
    speedup: { semantic: gain(semantic), coarse: gain(coarse) },
    prepack: memory.prepack,
    cpu_arena: memory.cpuMemArena,
    peak_rss_mb: round(process.resourceUsage().maxRSS / 1024),
    node: process.version
  } satisfies BatchBenchReport
}, Effect.scoped)
