/**
 * `FineLM` (Bark's non-causal fine model) on one onnxruntime session of the
 * fine graph; `pred_idx` is a graph input, so every codebook shares it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Tensor } from "onnxruntime-node"
import type { InferenceBackend, ModelSource } from "../../onnx/InferenceBackend.ts"
import type { FineConfig } from "../config.ts"
import { InferenceError } from "../../onnx/InferenceError.ts"
import type { FineLM } from "../models.ts"
import { fineGptGraph, names } from "./graph.ts"
import type { WeightFormat } from "./weightFormat.ts"
import { commonDims, type FineGptWeights } from "./weights.ts"

/** What the fine model's session needs to know of its model: its `config.json` section (biases aside). */
export type FineDims = Omit<FineConfig, "bias">

/** The dims of `weights` (they match the config they were checked against). */
export const fineDims = (weights: FineGptWeights): FineDims => ({
  ...commonDims(weights),
  input_vocab_size: weights.tokenEmbeddings[0]!.shape[0]!,
  output_vocab_size: weights.lmHeads[0]!.shape[0]!,
  n_codes_total: weights.tokenEmbeddings.length,
  n_codes_given: weights.nCodesGiven
})

/** Builds the fine graph of `weights` in memory, matrices as `format` says, and opens it on `backend` (see `openFineLM`). */
export const makeFineLM = Effect.fn("makeFineLM")(function*(
  weights: FineGptWeights,
  backend: typeof InferenceBackend.Service,
  format?: WeightFormat
) {
  const source = yield* Effect.try({
    try: () => fineGptGraph(weights, format),
    catch: (cause) =>
      new InferenceError({
        model: "fine",
        message: `could not build the fine graph: ${cause instanceof Error ? cause.message : String(cause)}`,
        remediation: "check that the checkpoint matches its config.json"
      })
  })
  return yield* openFineLM(fineDims(weights), source, backend)
})

/**
 * Opens the fine graph `source` (built bytes, or the path of a converted
 * model) as a session on `backend`, released with the scope; the window is
 * the model's `block_size` frames.
 */
export const openFineLM = Effect.fn("openFineLM")(function*(
  dims: FineDims,
  source: ModelSource,
  backend: typeof InferenceBackend.Service
) {
  const model = "fine"
  const session = yield* backend.createSession(source, { model })

  const windowSize = dims.block_size
  const nCodes = dims.n_codes_total
  const vocabIn = dims.input_vocab_size
  const outputVocabSize = dims.output_vocab_size
  const firstPredicted = dims.n_codes_given

  const fail = (message: string, remediation: string) => new InferenceError({ model, message, remediation })

  const run: FineLM["run"] = (codes, predIdx) =>
    Effect.gen(function*() {
      if (!Number.isInteger(predIdx) || predIdx < firstPredicted || predIdx >= nCodes) {
        return yield* fail(
          `pred_idx ${predIdx} is out of range: the fine model predicts codebooks ${firstPredicted}..${nCodes - 1}`,
          "pass the index of a codebook the fine model predicts"
        )
      }
      const frames = codes.length / nCodes
      if (!Number.isInteger(frames) || frames < 1 || frames > windowSize) {
        return yield* fail(
          `fine input has ${codes.length} codes, expected frames × ${nCodes} codebooks with 1 to ${windowSize} frames`,
          "generation pads each window to its full frame count with the pad code"
        )
      }
      const ids = new BigInt64Array(codes.length)
      for (let i = 0; i < codes.length; i++) {
        const c = codes[i]!
        if (c < 0 || c >= vocabIn) {
          return yield* fail(
            `code ${c} at frame ${Math.floor(i / nCodes)}, codebook ${i % nCodes} is outside 0..${vocabIn - 1}`,
            "codes must be 0..1023, or 1024 for not-yet-predicted slots"
          )
        }
        ids[i] = BigInt(c)
      }
      const out = yield* session.run({
        [names.codes]: new Tensor("int64", ids, [frames, nCodes]),
        [names.predIdx]: new Tensor("int64", BigInt64Array.of(BigInt(predIdx)), [])
      }, [names.logits])
      return out[names.logits]!.data as Float32Array
    })

  const fine: FineLM = { windowSize, nCodes, outputVocabSize, run }
  return fine
})
