/**
 * `FineLM` (Bark's non-causal fine model) on one onnxruntime session of the
 * fine graph; `pred_idx` is a graph input, so every codebook shares it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Tensor } from "onnxruntime-node"
import type { GraphSource, InferenceBackend } from "../../onnx/InferenceBackend.ts"
import { InferenceError } from "../../onnx/InferenceError.ts"
import type { FineLM } from "../models.ts"
import { fineGptGraph, names } from "./graph.ts"
import type { FineGptWeights } from "./weights.ts"

/**
 * Builds the fine graph and opens its session on `backend` (released with the scope); the window is the model's `block_size` frames.
 * `graphSource` may supply the graph instead (e.g. from a graph cache).
 */
export const makeFineLM = Effect.fn("makeFineLM")(function*(
  weights: FineGptWeights,
  backend: typeof InferenceBackend.Service,
  options: { readonly graphSource?: GraphSource } = {}
) {
  const model = "fine"
  const build = Effect.try({
    try: () => fineGptGraph(weights),
    catch: (cause) =>
      new InferenceError({
        model,
        message: `could not build the fine graph: ${cause instanceof Error ? cause.message : String(cause)}`,
        remediation: "check that the checkpoint matches its config.json"
      })
  })
  const source = options.graphSource === undefined ? yield* build : yield* options.graphSource(model, build)
  const session = yield* backend.createSession(source, { model })

  const windowSize = weights.blockSize
  const nCodes = weights.tokenEmbeddings.length
  const vocabIn = weights.tokenEmbeddings[0]!.shape[0]!
  const outputVocabSize = weights.lmHeads[0]!.shape[0]!
  const firstPredicted = weights.nCodesGiven

  const fail = (message: string, remediation: string) => new InferenceError({ model, message, remediation })

  const run: FineLM["run"] = (codes, predIdx) =>
    Effect.gen(function*() {
      if (!Number.isInteger(predIdx) || predIdx < firstPredicted || predIdx >= nCodes) {
        return yield* fail(
          `pred_idx ${predIdx} is out of range: the fine model predicts codebooks ${firstPredicted}..${nCodes - 1}`,
          "pass the index of a codebook the fine model predicts"
        )
      }
      if (codes.length !== windowSize * nCodes) {
        return yield* fail(
          `fine input has ${codes.length} codes, expected ${windowSize} frames × ${nCodes} codebooks = ${windowSize * nCodes}`,
          "pad the window to the full frame count with the pad code"
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
        [names.codes]: new Tensor("int64", ids, [windowSize, nCodes]),
        [names.predIdx]: new Tensor("int64", BigInt64Array.of(BigInt(predIdx)), [])
      }, [names.logits])
      return out[names.logits]!.data as Float32Array
    })

  const fine: FineLM = { windowSize, nCodes, outputVocabSize, run }
  return fine
})
