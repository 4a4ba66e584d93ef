/**
 * The generation benchmark: fixed work with EOS disabled, so every run does
 * the same amount of it whatever the weights predict — N semantic tokens,
 * M coarse tokens, P fine passes (each pass: the six codebook predictions over
 * a 1024-frame window) and the codec decode of K frames — through the same
 * generation code synthesis uses, with greedy sampling.
 *
 * Figures: milliseconds per token (semantic: the decode steps after the first
 * token, whose prefill is reported apart; coarse: everything, the prefill
 * of each sliding window included),
 * seconds per fine pass, codec seconds, the real-time factor of each stage
 * (compute seconds per second of audio it covers) and end to end (their
 * sum), and the process's peak RSS.
 *
 * @since 0.1.0
 */
import { Effect, Path, Schema } from "effect"
import * as os from "node:os"
import { coreCount, InferenceBackend } from "../onnx/InferenceBackend.ts"
import { runtimeInfo } from "../onnx/runtimeInfo.ts"
import type { Dtype } from "../bark/dtype.ts"
import { convertModelDir } from "../bark/engine/openModelDir.ts"
import { openModels } from "../bark/loadModels.ts"
import { makeCodes } from "../bark/generate/Codes.ts"
import { coarseSteps, generateCoarse } from "../bark/generate/coarse.ts"
import { CODEBOOK_SIZE, COARSE_RATE_HZ, FINE_HOP, FINE_WINDOW, MAX_SEMANTIC_TOKENS, N_COARSE_CODEBOOKS, N_FINE_CODEBOOKS, SEMANTIC_RATE_HZ, SEMANTIC_VOCAB_SIZE } from "../bark/generate/constants.ts"
import { fineWindows, generateFine } from "../bark/generate/fine.ts"
import { argmax } from "../bark/generate/sampling.ts"
import { generateSemantic } from "../bark/generate/semantic.ts"
import type { BarkModels } from "../bark/models.ts"
import { presets } from "./randomCheckpoint.ts"
import * as Settings from "../bark/settings.ts"
import * as CacheDirs from "../bark/stages/cacheDirs.ts"
import { ensureRandomModelDir } from "./demo/demoModelDir.ts"

export interface BenchOptions {
  /** Semantic tokens to generate (1..768). */
  readonly semanticTokens: number
  /** Coarse tokens to generate, both codebooks counted (rounded up to what a whole semantic input gives). */
  readonly coarseTokens: number
  /** Fine passes (windows of 1024 frames, 512 new frames each after the first). */
  readonly finePasses: number
  /** Frames (75 per second) for the codec to decode. */
  readonly codecFrames: number
}

export const defaultBenchOptions: BenchOptions = { semanticTokens: 64, coarseTokens: 128, finePasses: 1, codecFrames: 150 }

/** The random model the benchmark makes when none is given: suno/bark-small's dimensions. */
export const benchModelPreset = presets.barkSmall
export const benchModelDirName = "bench-bark-small"

export class InvalidBenchOptions extends Schema.TaggedError<InvalidBenchOptions>()("InvalidBenchOptions", {
  message: Schema.String,
  remediation: Schema.String
}) {}

export interface TokenStageFigures {
  readonly tokens: number
  readonly seconds: number
  readonly ms_per_token: number
  /** Seconds of audio the tokens stand for. */
  readonly audio_seconds: number
  readonly rtf: number
}

export interface BenchFigures {
  /** `ms_per_token` after the first token; `first_token_ms` is the prefill of the context plus the first step. */
  readonly semantic: TokenStageFigures & { readonly first_token_ms: number }
  readonly coarse: TokenStageFigures
  readonly fine: {
    readonly passes: number
    readonly frames: number
    readonly seconds: number
    readonly seconds_per_pass: number
    /** One fine-model forward (a pass runs one per predicted codebook). */
    readonly seconds_per_forward: number
    readonly audio_seconds: number
    readonly rtf: number
  }
  readonly codec: { readonly frames: number; readonly seconds: number; readonly audio_seconds: number; readonly rtf: number }
  /** Compute seconds per second of audio through all four stages (below 1 is faster than real time). */
  readonly rtf: number
  /** The one untimed run of each model before measuring (session allocation, first-run costs). */
  readonly warmup_seconds: number
}

/** Four significant digits: enough for timings, and never rounds a fast stage down to 0. */
export const round = (x: number) => Number(x.toPrecision(4))

const check = (options: BenchOptions): Effect.Effect<void, InvalidBenchOptions> => {
  const limits = [
    ["--semantic-tokens", options.semanticTokens, MAX_SEMANTIC_TOKENS],
    ["--coarse-tokens", options.coarseTokens, 100_000],
    ["--fine-passes", options.finePasses, 1000],
    ["--codec-frames", options.codecFrames, 100_000]
  ] as const
  for (const [flag, value, max] of limits) {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      return Effect.fail(
        new InvalidBenchOptions({
          message: `${flag} ${value} is outside 1..${max}`,
          remediation: `give ${flag} a whole number from 1 to ${max}`
        })
      )
    }
  }
  return Effect.void
}

/** Deterministic stand-in data: the benchmark's cost does not depend on the values. */
export const pattern = (length: number, modulo: number, step: number) => Int32Array.from({ length }, (_, i) => (i * step + 7) % modulo)

/** Shortest semantic input whose coarse stage generates at least `tokens` coarse tokens. */
export const semanticLengthFor = (tokens: number) => {
  let length = Math.max(1, Math.floor(tokens / 4))
  while (coarseSteps(length) < tokens) length++
  return length
}

export const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const value = yield* effect
    return { value, start, seconds: (performance.now() - start) / 1000 }
  })

/** Runs the fixed work on `models` and measures each stage. */
export const runBench = Effect.fn("bark.runBench")(function*(models: BarkModels, options: BenchOptions) {
  yield* check(options)
  const textIds = pattern(32, 1000, 13)

  const warmup = yield* timed(Effect.gen(function*() {
    const first = yield* models.semantic.prefill(Int32Array.of(1, 2, 3))
    yield* models.semantic.step(first.state, 4)
    const coarse = yield* models.coarse.prefill(Int32Array.of(1, 2, 3))
    yield* models.coarse.step(coarse.state, 4)
    yield* models.fine.run(new Int32Array(FINE_WINDOW * N_FINE_CODEBOOKS).fill(CODEBOOK_SIZE), 2)
    yield* models.codec.decode(pattern(N_FINE_CODEBOOKS * 4, CODEBOOK_SIZE, 31), 4)
  }))

  // EOS is not a candidate without early stop; the duration limit ends the loop right after token N.
  let firstTokenAt = 0
  const semantic = yield* timed(generateSemantic(models.semantic, textIds, {
    sampler: argmax,
    allowEarlyStop: false,
    maxGenDurationS: (options.semanticTokens - 0.5) / SEMANTIC_RATE_HZ,
    onProgress: (done) => Effect.sync(() => {
      if (done === 1) firstTokenAt = performance.now()
    })
  }))
  const firstTokenSeconds = (firstTokenAt - semantic.start) / 1000

  const semanticInput = pattern(semanticLengthFor(options.coarseTokens), SEMANTIC_VOCAB_SIZE, 37)
  const coarse = yield* timed(generateCoarse(models.coarse, semanticInput, { sampler: argmax }))

  const fineFrames = FINE_WINDOW + FINE_HOP * (options.finePasses - 1)
  const coarseCodes = makeCodes(N_COARSE_CODEBOOKS, fineFrames, pattern(N_COARSE_CODEBOOKS * fineFrames, CODEBOOK_SIZE, 97))
  const fine = yield* timed(generateFine(models.fine, coarseCodes, { sampler: argmax, temp: null }))

  const codes = pattern(N_FINE_CODEBOOKS * options.codecFrames, CODEBOOK_SIZE, 61)
  const codec = yield* timed(models.codec.decode(codes, options.codecFrames))

  const tokenStage = (tokens: number, seconds: number, audioSeconds: number): TokenStageFigures => ({
    tokens,
    seconds: round(seconds),
    ms_per_token: round((seconds * 1000) / tokens),
    audio_seconds: round(audioSeconds),
    rtf: round(seconds / audioSeconds)
  })
  const semanticTokens = semantic.value.tokens.length
  const semanticFigures = {
    ...tokenStage(semanticTokens, semantic.seconds, semanticTokens / SEMANTIC_RATE_HZ),
    // The prefill of the 513-id context dominates the first token; the steady rate is the decode step's.
    ...(semanticTokens > 1 ? { ms_per_token: round(((semantic.seconds - firstTokenSeconds) * 1000) / (semanticTokens - 1)) } : {}),
    first_token_ms: round(firstTokenSeconds * 1000)
  }
  const coarseFigures = tokenStage(coarse.value.data.length, coarse.seconds, coarse.value.frames / COARSE_RATE_HZ)
  const passes = fineWindows(fineFrames, 0).length
  const fineAudio = fineFrames / COARSE_RATE_HZ
  const codecAudio = options.codecFrames / COARSE_RATE_HZ
  const figures: BenchFigures = {
    semantic: semanticFigures,
    coarse: coarseFigures,
    fine: {
      passes,
      frames: fineFrames,
      seconds: round(fine.seconds),
      seconds_per_pass: round(fine.seconds / passes),
      seconds_per_forward: round(fine.seconds / (passes * (N_FINE_CODEBOOKS - N_COARSE_CODEBOOKS))),
      audio_seconds: round(fineAudio),
      rtf: round(fine.seconds / fineAudio)
    },
    codec: { frames: options.codecFrames, seconds: round(codec.seconds), audio_seconds: round(codecAudio), rtf: round(codec.seconds / codecAudio) },
    rtf: round(
      semantic.seconds / semanticFigures.audio_seconds + coarse.seconds / coarseFigures.audio_seconds + fine.seconds / fineAudio +
        codec.seconds / codecAudio
    ),
    warmup_seconds: round(warmup.seconds)
  }
  return figures
})

export interface BenchmarkOptions extends BenchOptions {
  /** A model directory; default the random bark-small-sized model, made in the cache on first use. */
  readonly model?: string | undefined
  /** onnxruntime intra-op threads, as the backend was made with; undefined = onnxruntime's default (one per core). */
  readonly threads?: number | undefined
  /** The weight type to convert to and run (default fp32). */
  readonly dtype?: Dtype | undefined
}

export interface BenchReport extends BenchFigures {
  readonly model: string
  /** "given" (--model), or the random bark-small-sized model "cached" or "generated" by this run. */
  readonly model_source: "given" | "cached" | "generated"
  readonly execution_provider: string
  readonly threads: number
  readonly cores: number
  readonly dtype: Dtype
  /** Converting the checkpoint into the graph cache; 0 when this dtype's graphs were cached. */
  readonly convert_seconds: number
  /** Size on disk of the graph-cache entry (all four sub-models), MB. */
  readonly cache_entry_mb: number
  /** Creating the sessions from the cached graphs. */
  readonly load_seconds: number
  /** Whether onnxruntime prepacked the weights (BARK_ORT_PREPACK). */
  readonly prepack: boolean
  /** Whether onnxruntime's CPU arena was on (BARK_ORT_CPU_ARENA). */
  readonly cpu_arena: boolean
  readonly rss_after_load_mb: number
  /** Peak resident set size of the process, MB (includes making the random model when `model_source` is "generated", and converting when `convert_seconds` > 0). */
  readonly peak_rss_mb: number
  readonly onnxruntime: string
  readonly node: string
}

/**
 * The benchmark's models: the model given, or the random bark-small-sized one
 * from the cache (made on first use), converted to `dtype` and opened.
 */
export const openBenchModels = Effect.fn("bark.openBenchModels")(function*(options: {
  readonly model?: string | undefined
  readonly dtype?: Dtype | undefined
  /** Open the sessions as a batching engine does (see Settings.memoryOptions); default as BARK_MAX_BATCH says. */
  readonly batching?: boolean
}) {
  const path = yield* Path.Path
  const backend = yield* InferenceBackend
  let model = options.model
  let source: BenchReport["model_source"] = "given"
  if (model === undefined) {
    const dirs = yield* CacheDirs.resolve
    const made = yield* ensureRandomModelDir(path.join(dirs.own, benchModelDirName), benchModelPreset)
    model = made.dir
    source = made.created ? "generated" : "cached"
  }
  const dtype = options.dtype ?? "fp32"
  const memory = yield* Settings.memoryOptions(dtype, options.batching)
  const convert = yield* timed(convertModelDir(model, { dtype }))
  const entry = convert.value
  const load = yield* timed(openModels(entry.config, entry.graphs, backend, { sessionOptions: memory }))
  return { model, source, dtype, memory, convert, load, backend }
})

/** The benchmark: the model (given, or the random bark-small-sized one from the cache), loaded, then `runBench`. */
export const benchmark = Effect.fn("bark.benchmark")(function*(options: BenchmarkOptions) {
  yield* check(options)
  const { model, source, dtype, memory, convert, load, backend } = yield* openBenchModels(options)
  const rssAfterLoad = process.memoryUsage.rss()
  const figures = yield* runBench(load.value, options)
  const runtime = yield* runtimeInfo
  return {
    model,
    model_source: source,
    execution_provider: backend.providers[0] ?? backend.name,
    threads: options.threads ?? coreCount(),
    cores: os.availableParallelism(),
    dtype,
    convert_seconds: convert.value.cached ? 0 : round(convert.seconds),
    cache_entry_mb: round(convert.value.bytes / 1024 ** 2),
    load_seconds: round(load.seconds),
    prepack: memory.prepack,
    cpu_arena: memory.cpuMemArena,
    rss_after_load_mb: round(rssAfterLoad / 1024 ** 2),
    ...figures,
    peak_rss_mb: round(process.resourceUsage().maxRSS / 1024),
    onnxruntime: runtime.version,
    node: process.version
  } satisfies BenchReport
}, Effect.scoped)
