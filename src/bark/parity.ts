/**
 * Parity with the reference implementation on a golden case folder
 * (`../shared/fixtures/golden/<case>`: config.json, model.safetensors, input
 * `.npy` files and the reference outputs).
 *
 * `writeParityOutputs` runs this library's loaders and graphs on the case's
 * inputs and writes every forward-pass output under the reference's file
 * names; `compareWithGolden` applies the rules of the golden `compare.py`.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"
import { decodeNpy, encodeNpy } from "../checkpoint/npy.ts"
import { decode as decodeSafetensors } from "../checkpoint/safetensors.ts"
import { fromFloat32, numel, type Tensor, toFloat32, toInt32, toNumbers } from "../checkpoint/Tensor.ts"
import { InferenceBackend } from "../onnx/InferenceBackend.ts"
import { makeCodecDecoder } from "./codec/decoder.ts"
import { loadBarkConfig } from "./config.ts"
import { type CausalGpt, makeCausalGpt, MERGED_FIELD } from "./gpt/causalLM.ts"
import { makeFineLM } from "./gpt/fineLM.ts"
import { causalGptWeights, fineGptWeights } from "./gpt/weights.ts"

/** The reference feeds the last this-many ids one at a time after a cached prefix. */
const INCREMENTAL_STEPS = 6

/** Writes the forward-pass outputs of `caseDir`'s checkpoint into `outDir`; returns the file names written. */
export const writeParityOutputs = Effect.fn("writeParityOutputs")(function*(caseDir: string, outDir: string) {
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
  const write = (name: string, shape: ReadonlyArray<number>, values: Float32Array) =>
    Effect.andThen(
      fs.writeFile(path.join(outDir, `${name}.npy`), encodeNpy(fromFloat32(shape, values))),
      Effect.sync(() => written.push(`${name}.npy`))
    )

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
    const writeRows = (name: string, rows: ReadonlyArray<Float32Array>) => write(name, [1, rows.length, vocab], concat(rows))

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

  return written as ReadonlyArray<string>
}, Effect.scoped)

const concat = (rows: ReadonlyArray<Float32Array>): Float32Array => {
  const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0))
  let at = 0
  for (const r of rows) {
    out.set(r, at)
    at += r.length
  }
  return out
}

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
