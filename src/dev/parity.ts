/**
 * Parity with the reference implementation on a golden case folder
 * (`../shared/fixtures/golden/<case>`: config.json, model.safetensors, input
 * `.npy` files, generation_info.json, voices and the reference outputs).
 *
 * `writeParityOutputs` runs this library's loaders, graphs and generation
 * code on the case's inputs and writes every output the reference wrote
 * (forward passes, codec, and the greedy end-to-end runs — these through the
 * synthesis recipe every request runs) under the same file names; `compareWithGolden` applies the rules of the golden `compare.py`.
 *
 * @since 0.1.0
 */
import { writeAtomic } from "../files/writeAtomic.ts"
import { Context, Effect, FileSystem, Path, Schema, Stream } from "effect"
import { decodeNpy, encodeNpy } from "../checkpoint/npy.ts"
import { decode as decodeSafetensors } from "../checkpoint/safetensors.ts"
import { fromFloat32, fromInt64, numel, type Tensor, toFloat32, toInt32, toNumbers } from "../checkpoint/Tensor.ts"
import { concatFloat32 } from "../files/bytes.ts"
import { InferenceBackend } from "../onnx/InferenceBackend.ts"
import { makeCodecDecoder } from "../bark/codec/decoder.ts"
import { loadBarkConfig } from "../bark/config.ts"
import type { Codes } from "../bark/generate/Codes.ts"
import type { VoicePrompt } from "../bark/generate/VoicePrompt.ts"
import { type CausalGpt, makeCausalGpt, MERGED_FIELD } from "../bark/gpt/causalLM.ts"
import { makeFineLM } from "../bark/gpt/fineLM.ts"
import { causalGptWeights, fineGptWeights } from "../bark/gpt/weights.ts"
import type { BarkModels } from "../bark/models.ts"
import { indexedVoices, loadVoice, voiceFromNpz } from "../bark/voices.ts"
import type { GenerationDefaults } from "../bark/engine/samplingSettings.ts"
import { BarkSteps } from "../bark/synthesis/BarkSteps.ts"
import * as InProcessSteps from "../bark/synthesis/inProcessSteps.ts"
import * as Recipes from "../bark/synthesis/recipes.ts"
import * as Synthesis from "../bark/synthesis/run.ts"
import { AudioCacheStore, ChunkAudio, CoarseCodes, FineCodes, SemanticTokens, TextIds } from "../bark/synthesis/services.ts"
import * as SynthesisRecipe from "../bark/synthesis/SynthesisRecipe.ts"
import { makeTokenizer } from "../bark/tokenizer.ts"
import * as Stage from "../pipeline/Stage.ts"
import type { TraceEvent } from "../pipeline/TraceEvent.ts"
import { minimalVocab } from "./modelDir.ts"

/** The reference feeds the last this-many ids one at a time after a cached prefix. */
const INCREMENTAL_STEPS = 6

/** A case folder this library cannot read as a golden case. */
export class ParityCaseError extends Schema.TaggedError<ParityCaseError>()("ParityCaseError", {
  message: Schema.String,
  remediation: Schema.String
}) {}

export interface ParityOutputs {
  /** The `.npy` files written, by name. */
  readonly files: ReadonlyArray<string>
  /** What the run had to decide about the case folder (a fallback voice, a run it could not do). */
  readonly notes: ReadonlyArray<string>
}

/**
 * Writes every output of `caseDir` (forward passes, codec, end-to-end runs)
 * into `outDir`, each file atomically.
 */
export const writeParityOutputs = Effect.fn("writeParityOutputs")(function*(
  caseDir: string,
  outDir: string,
  options: {
    /** Generate the end-to-end runs together, in one running batch per causal model (./generate/batch.ts). */
    readonly batched?: boolean
  } = {}
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const backend = yield* InferenceBackend
  const inCase = (name: string) => path.join(caseDir, name)
  const readNpy = (name: string) => Effect.flatMap(fs.readFile(inCase(name)), (bytes) => decodeNpy(bytes, inCase(name)))
  const ids = (name: string) => Effect.map(readNpy(name), toInt32)

  const config = yield* loadBarkConfig(inCase("config.json"))
  const checkpoint = yield* Effect.flatMap(
    fs.readFile(inCase("model.safetensors")),
    (bytes) => decodeSafetensors(bytes, inCase("model.safetensors"))
  )
  const weights = checkpoint.tensors

  yield* fs.makeDirectory(outDir, { recursive: true })
  const written: Array<string> = []
  const notes: Array<string> = []
  const writeTensor = (name: string, tensor: Tensor) =>
    Effect.gen(function*() {
      yield* writeAtomic(path.join(outDir, `${name}.npy`), encodeNpy(tensor))
      written.push(`${name}.npy`)
    })
  const write = (name: string, shape: ReadonlyArray<number>, values: Float32Array) => writeTensor(name, fromFloat32(shape, values))

  /** Whole sequence, one call: logits of every position. */
  const allLogits = (gpt: CausalGpt, input: Int32Array, mergeContext: boolean) =>
    Effect.map(gpt.prefill(input, { mergeContext }), (r) => r.logits)

  /** Cached prefix, then the remaining ids one at a time: the logits of each call, stacked. */
  const incremental = Effect.fnUntraced(function*(gpt: CausalGpt, input: Int32Array, mergeContext: boolean) {
    const minPrefix = mergeContext ? 2 * MERGED_FIELD + 1 : 1
    const prefix = Math.max(minPrefix, input.length - INCREMENTAL_STEPS)
    const rows: Array<Float32Array> = []
    let step = yield* gpt.prefill(input.subarray(0, prefix), { mergeContext })
    rows.push(step.logits)
    for (let i = prefix; i < input.length; i++) {
      step = yield* gpt.step(step.state, input[i]!)
      rows.push(step.logits)
    }
    return rows
  })

  const causal = Effect.fnUntraced(function*(
    model: "semantic" | "coarse",
    prefix: "semantic" | "coarse_acoustics",
    gptConfig: typeof config.semantic_config
  ) {
    const w = yield* causalGptWeights(weights, prefix, gptConfig)
    const last = yield* makeCausalGpt(model, w, backend)
    const every = yield* makeCausalGpt(model, w, backend, { logitsFor: "all" })
    const vocab = last.outputVocabSize
    const writeRows = (name: string, rows: ReadonlyArray<Float32Array>) => write(name, [1, rows.length, vocab], concatFloat32(rows))

    const input = yield* ids(`${model}_input_ids.npy`)
    yield* write(`${model}_logits`, [1, input.length, vocab], yield* allLogits(every, input, false))
    const steps = yield* incremental(last, input, false)
    yield* writeRows(`${model}_kv_step_logits`, steps)
    yield* writeRows(`${model}_kv_last_logits`, steps.slice(-1))
    return { last, every, writeRows, vocab }
  })

  const semantic = yield* causal("semantic", "semantic", config.semantic_config)
  const merged = yield* ids("semantic_merged_input_ids.npy")
  const mergedAll = yield* allLogits(semantic.every, merged, true)
  const tail = merged.length - 2 * MERGED_FIELD // the infer token and what follows it
  yield* write("semantic_merged_logits_tail", [1, tail, semantic.vocab], mergedAll.subarray(mergedAll.length - tail * semantic.vocab))
  yield* semantic.writeRows("semantic_merged_kv_step_logits", yield* incremental(semantic.last, merged, true))

  const coarse = yield* causal("coarse", "coarse_acoustics", config.coarse_acoustics_config)
  const long = yield* ids("coarse_long_input_ids.npy")
  yield* coarse.writeRows("coarse_long_last_logits", [(yield* coarse.last.prefill(long)).logits])
  yield* coarse.writeRows("coarse_long_kv_step_logits", yield* incremental(coarse.last, long, false))

  const fine = yield* makeFineLM(yield* fineGptWeights(weights, config.fine_acoustics_config), backend)
  const fineCodes = yield* ids("fine_input_codes.npy")
  for (const predIdx of [2, 7]) {
    yield* write(`fine_logits_pred${predIdx}`, [1, fine.windowSize, fine.outputVocabSize], yield* fine.run(fineCodes, predIdx))
  }

  const codec = yield* makeCodecDecoder(weights, config.codec_config, backend)
  const codes = yield* readNpy("codec_codes.npy")
  const frames = codes.shape[1]!
  const embeddings = yield* codec.embeddings(toInt32(codes), frames)
  yield* write("codec_embeddings", [1, embeddings.length / frames, frames], embeddings)
  yield* write("codec_waveform", [frames * codec.hopLength], yield* codec.decode(toInt32(codes), frames))
  const short = yield* readNpy("codec_short_codes.npy")
  const shortFrames = short.shape[1]!
  yield* write("codec_short_waveform", [shortFrames * codec.hopLength], yield* codec.decode(toInt32(short), shortFrames))

  const models: BarkModels = { semantic: semantic.last, coarse: coarse.last, fine, codec }
  const info = yield* readGenerationInfo(inCase("generation_info.json"))
  // Every run's inputs first, so that batched runs start together.
  const runs: Array<{ readonly run: string; readonly textIds: Int32Array; readonly params: typeof RunParams.Type; readonly voice: VoicePrompt | undefined }> = []
  for (const run of E2E_RUNS) {
    const params = info?.[`${run}_params`]
    if (params === undefined) {
      const why = info === undefined ? "the case has no generation_info.json" : `generation_info.json has no ${run}_params`
      notes.push(`${why}: the ${run}_* outputs were not generated`)
      continue
    }
    let voice: VoicePrompt | undefined
    if (run === "e2e_hist") {
      const history = yield* caseHistoryPrompt(caseDir)
      notes.push(history.note)
      voice = history.voice
    }
    runs.push({ run, textIds: yield* ids(`${run}_text_token_ids.npy`), params, voice })
  }
  const voices = new Map(runs.flatMap(({ run, voice }) => voice === undefined ? [] : [[run, voice] as const]))
  const steps = yield* InProcessSteps.fromModels(models, {
    tokenizer: yield* makeTokenizer(minimalVocab().join("\n"), "parity"),
    voices: [...voices.keys()],
    voice: (name) => Effect.succeed(voices.get(name)!)
  }, { maxBatch: options.batched === true ? E2E_RUNS.length : 1 })
  let largestStep = 0
  const generated = yield* Effect.forEach(runs, (r) => e2eRun(steps, r, (batch) => void (largestStep = Math.max(largestStep, batch))), {
    concurrency: options.batched === true ? "unbounded" : 1
  })
  for (const { run, out } of generated) {
    yield* writeTensor(`${run}_semantic_tokens`, int64([out.semantic.length], out.semantic))
    yield* writeTensor(`${run}_coarse_tokens`, codesTensor(out.coarse))
    yield* writeTensor(`${run}_fine_tokens`, codesTensor(out.fine))
    yield* write(`${run}_waveform`, [out.audio.length], out.audio)
  }
  if (options.batched === true) notes.push(`the end-to-end runs were decoded together: the largest step held ${largestStep} sequences`)

  return { files: written, notes } satisfies ParityOutputs
}, Effect.scoped)

// ------------------------------------------------------------ end to end

/** The greedy end-to-end runs of a case: `e2e` without a history prompt, `e2e_hist` with one. */
const E2E_RUNS = ["e2e", "e2e_hist"] as const

/** What the end-to-end run of a case generated: every stage's output, read from the chunk pipeline. */
interface E2eOutput {
  readonly semantic: Int32Array
  readonly coarse: Codes
  readonly fine: Codes
  readonly audio: Float32Array
}

class E2eCapture extends Context.Service<E2eCapture, E2eOutput>()("bark-pipeline/parity/E2eCapture") {}

/**
 * One end-to-end run through the synthesis recipe, as every request runs:
 * the case's text ids stand in for the tokenizer (a stage swapped), and a
 * stage added after `post` captures each stage's output. The normaliser is
 * skipped (the text is a placeholder) and the sampler is argmax, as the
 * reference ran.
 */
const e2eRun = (
  steps: BarkSteps["Service"],
  r: { readonly run: string; readonly textIds: Int32Array; readonly params: typeof RunParams.Type },
  onBatch: (size: number) => void
) => {
  let captured: E2eOutput | undefined
  const fixedIds = Stage.make({
    name: "tokenize",
    purpose: "the golden case's text ids",
    provides: TextIds,
    build: Effect.succeed(TextIds.of({ ids: r.textIds }))
  })
  const capture = Stage.make({
    name: "capture",
    purpose: "keep every stage's output for the comparison",
    provides: E2eCapture,
    needs: [SemanticTokens, CoarseCodes, FineCodes, ChunkAudio],
    build: Effect.gen(function*() {
      captured = {
        semantic: (yield* SemanticTokens).tokens,
        coarse: (yield* CoarseCodes).codes,
        fine: (yield* FineCodes).codes,
        audio: (yield* ChunkAudio).audio
      }
      return captured
    })
  })
  const recipe = Recipes.synthesis.pipe(
    SynthesisRecipe.skip("normalize-text", "parity: the text is a placeholder for the case's ids"),
    SynthesisRecipe.replace(TextIds, fixedIds),
    SynthesisRecipe.insertAfter("post", capture)
  )
  const { semantic, coarse, fine } = generateOptions(r.params)
  const onTrace = (event: TraceEvent) =>
    Effect.sync(() => {
      const batch = event.type === "stage-finished" ? event.result.metadata["batch"] : undefined
      if (typeof batch === "number") onBatch(batch)
    })
  return Synthesis.stream(recipe, r.run, { sampler: "argmax", onTrace, ...(r.run === "e2e_hist" ? { voice: r.run } : {}) }, {
    concurrency: 1,
    silenceSeconds: 0,
    split: {},
    generation: { semantic, coarse, fine }
  }).pipe(
    Stream.runDrain,
    Effect.provideService(BarkSteps, steps),
    Effect.provideService(AudioCacheStore, AudioCacheStore.of({ model: "parity", revision: null, dtype: "fp32", cache: undefined })),
    Effect.flatMap(() =>
      captured === undefined
        ? Effect.die(new Error(`the ${r.run} run produced no chunk`))
        : Effect.succeed({ run: r.run, out: captured })
    )
  )
}

const Maybe = Schema.NullOr(Schema.Number)

/** One run's parameters under suno-ai/bark's own names, as generation_info.json records them. */
const RunParams = Schema.Struct({
  semantic: Schema.Struct({
    temp: Schema.Number,
    top_k: Maybe,
    top_p: Maybe,
    min_eos_p: Maybe,
    max_gen_duration_s: Maybe,
    allow_early_stop: Schema.optionalKey(Schema.Boolean)
  }),
  coarse: Schema.Struct({
    temp: Schema.Number,
    top_k: Maybe,
    top_p: Maybe,
    max_coarse_history: Schema.Number,
    sliding_window_len: Schema.Number
  }),
  fine: Schema.Struct({ temp: Maybe })
})

const GenerationInfo = Schema.Struct({
  e2e_params: Schema.optionalKey(RunParams),
  e2e_hist_params: Schema.optionalKey(RunParams)
})

const readGenerationInfo = (file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(file))) return undefined
    return yield* fs.readFileString(file).pipe(
      Effect.flatMap(Schema.decodeUnknownEffect(Schema.fromJsonString(GenerationInfo))),
      Effect.mapError((e) =>
        new ParityCaseError({
          message: `cannot read the generation parameters in ${file}: ${e.message}`,
          remediation: "use a golden case folder as the reference generator wrote it (e2e_params / e2e_hist_params under Bark's names)"
        })
      )
    )
  })

/** Bark's parameter names to the generation stages' parameters (the goldens were made with the argmax sampler). */
const generateOptions = (p: typeof RunParams.Type): Required<GenerationDefaults> => ({
  semantic: {
    temp: p.semantic.temp,
    topK: p.semantic.top_k,
    topP: p.semantic.top_p,
    minEosP: p.semantic.min_eos_p,
    maxGenDurationS: p.semantic.max_gen_duration_s,
    ...(p.semantic.allow_early_stop === undefined ? {} : { allowEarlyStop: p.semantic.allow_early_stop })
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

const VOICE_NPZ = "voice_prompt.npz"

/**
 * The history prompt of a case's `e2e_hist` run: the speaker-embedding trio
 * when `speaker_embeddings_path.json` names exactly one voice, else (or when
 * one of its files cannot be read) `voice_prompt.npz`, which holds the same
 * arrays. `note` says which was used and why.
 */
export const caseHistoryPrompt = Effect.fn("caseHistoryPrompt")(function*(caseDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const npzFile = path.join(caseDir, VOICE_NPZ)
  const fromNpz = (why: string) =>
    Effect.gen(function*() {
      if (!(yield* fs.exists(npzFile))) {
        return yield* new ParityCaseError({
          message: `the e2e_hist run needs a history prompt, but ${why} and ${npzFile} does not exist`,
          remediation: `add the case's ${VOICE_NPZ} (or its complete speaker_embeddings/ trio) to the folder`
        })
      }
      const voice = yield* voiceFromNpz(VOICE_NPZ, yield* fs.readFile(npzFile))
      return { voice, note: `history prompt: ${VOICE_NPZ}, because ${why}` }
    })

  // Every indexed voice, complete or not: a missing trio file is then named in the note below.
  const voices = yield* indexedVoices(caseDir)
  if (voices.length !== 1) {
    return yield* fromNpz(
      voices.length === 0 ? "the case lists no speaker-embedding voice" : `the case lists ${voices.length} voices (${voices.join(", ")})`
    )
  }
  const name = voices[0]!
  return yield* loadVoice(caseDir, name).pipe(
    Effect.map((voice) => ({ voice, note: `history prompt: speaker-embedding voice "${name}"` })),
    Effect.catchTag("InvalidVoicePrompt", (e) => fromNpz(`the speaker-embedding voice "${name}" is unusable (${e.message})`))
  )
})

const int64 = (shape: ReadonlyArray<number>, values: Int32Array) => fromInt64(shape, BigInt64Array.from(values, BigInt))
const codesTensor = (codes: Codes) => int64([codes.rows, codes.frames], codes.data)

// ------------------------------------------------------------------ compare

/** Files of a case that are inputs, not outputs (as in compare.py). */
const INPUT_SUFFIXES = ["_input_ids.npy", "_input_codes.npy", "_text_token_ids.npy", "_codes.npy"]
const LOGIT_ATOL = 1e-3
const LOGIT_RTOL = 1e-3
const WAVE_ATOL = 1e-4

export interface ParityResult {
  readonly file: string
  readonly status: "pass" | "fail" | "missing"
  readonly maxAbs: number
  readonly maxRel: number
  readonly note: string
}

/**
 * Compares every golden output `.npy` of `caseDir` with the file of the same
 * name in `outDir`: logits within 1e-3 + 1e-3·|g|, other floats within 1e-4,
 * integer arrays exactly; shapes may differ only by size-1 axes.
 */
export const compareWithGolden = Effect.fn("compareWithGolden")(function*(caseDir: string, outDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const load = (file: string) => Effect.flatMap(fs.readFile(file), (bytes) => decodeNpy(bytes, file))
  const names = (yield* fs.readDirectory(caseDir))
    .filter((n) => n.endsWith(".npy") && !INPUT_SUFFIXES.some((s) => n.endsWith(s)))
    .sort()
  const results: Array<ParityResult> = []
  for (const file of names) {
    const candidate = path.join(outDir, file)
    if (!(yield* fs.exists(candidate))) {
      results.push({ file, status: "missing", maxAbs: NaN, maxRel: NaN, note: "missing candidate file" })
      continue
    }
    results.push({ file, ...compareArrays(file, yield* load(path.join(caseDir, file)), yield* load(candidate)) })
  }
  return results as ReadonlyArray<ParityResult>
})

const isIntegral = (t: Tensor) => t.dtype.startsWith("I") || t.dtype.startsWith("U") || t.dtype === "BOOL"
const squeezed = (shape: ReadonlyArray<number>) => shape.filter((d) => d !== 1).join(",")

/** One golden/candidate pair, by compare.py's rules. */
export const compareArrays = (name: string, golden: Tensor, candidate: Tensor): Omit<ParityResult, "file"> => {
  const fail = (note: string) => ({ status: "fail" as const, maxAbs: NaN, maxRel: NaN, note })
  let note = ""
  if (golden.shape.join(",") !== candidate.shape.join(",")) {
    if (squeezed(golden.shape) !== squeezed(candidate.shape)) {
      return fail(`shape [${candidate.shape.join(", ")}] != [${golden.shape.join(", ")}]`)
    }
    note = `, reshaped from [${candidate.shape.join(", ")}]`
  }
  const n = numel(golden.shape)
  if (isIntegral(golden)) {
    const g = toNumbers(golden)
    const c = toNumbers(candidate)
    let bad = 0
    let first = -1
    let maxAbs = 0
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(c[i]!)) return fail(`non-integer candidate values${note}`)
      if (c[i] !== g[i]) {
        bad++
        if (first < 0) first = i
        maxAbs = Math.max(maxAbs, Math.abs(c[i]! - g[i]!))
      }
    }
    return bad === 0
      ? { status: "pass", maxAbs: 0, maxRel: 0, note: `exact${note}` }
      : { status: "fail", maxAbs, maxRel: NaN, note: `exact: ${bad} mismatches, first at flat index ${first}${note}` }
  }
  const g = toFloat32(golden)
  const c = toFloat32(candidate)
  const logits = name.includes("logits")
  let ok = true
  let maxAbs = 0
  let maxRel = 0
  for (let i = 0; i < n; i++) {
    const gi = g[i]!
    if (!Number.isFinite(c[i]!)) return fail(`non-finite candidate values${note}`)
    const d = Math.abs(c[i]! - gi)
    maxAbs = Math.max(maxAbs, d)
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(gi), 1e-12))
    if (d > (logits ? LOGIT_ATOL + LOGIT_RTOL * Math.abs(gi) : WAVE_ATOL)) ok = false
  }
  const tolerance = logits ? `atol ${LOGIT_ATOL} + rtol ${LOGIT_RTOL}` : `atol ${WAVE_ATOL}`
  return { status: ok ? "pass" : "fail", maxAbs, maxRel, note: tolerance + note }
}
