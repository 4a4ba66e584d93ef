/**
 * The EnCodec decoder as a `CodecDecoder`: reads and folds the checkpoint's
 * codec weights, builds the decoder graph and opens one onnxruntime session
 * for it, released with the enclosing scope.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Tensor as OrtTensor } from "onnxruntime-node"
import type { Weights } from "../../checkpoint/Tensor.ts"
import type { InferenceBackend, ModelSource } from "../../onnx/InferenceBackend.ts"
import { InferenceError } from "../../onnx/InferenceError.ts"
import type { CodecDecoder } from "../models.ts"
import { BARK_CODEBOOKS, type CodecConfig, codecLayout } from "./config.ts"
import { buildCodecGraph, CODES_INPUT, EMBEDDINGS_OUTPUT, WAVEFORM_OUTPUT } from "./graph.ts"
import { loadCodecWeights } from "./weights.ts"

export interface EncodecDecoder extends CodecDecoder {
  /** The quantizer's output for `codes` (`codebooks` × frames): [codebookDim, frames] row-major (for parity checks). */
  readonly embeddings: (codes: Int32Array, frames: number, codebooks?: number) => Effect.Effect<Float32Array, InferenceError>
}

const MODEL = "codec"

const badCodes = (message: string) =>
  new InferenceError({
    model: MODEL,
    message,
    remediation: `pass codebooks × frames codes, codebook-major, each in 0..1023, and codebooks from 1 to ${BARK_CODEBOOKS} ` +
      `(${BARK_CODEBOOKS} for the fine stage's output, 2 for the coarse stage's alone)`
  })

/** Checks shape and range before the codes reach a Gather, which would fail (or wrap) on bad indices. */
const toCodesTensor = (
  codes: Int32Array,
  frames: number,
  codebooks: number,
  codebookSize: number
): Effect.Effect<OrtTensor, InferenceError> => {
  if (!Number.isInteger(codebooks) || codebooks < 1 || codebooks > BARK_CODEBOOKS) {
    return Effect.fail(badCodes(`codec codebooks must be an integer from 1 to ${BARK_CODEBOOKS}, got ${codebooks}`))
  }
  if (!Number.isInteger(frames) || frames < 1) return Effect.fail(badCodes(`codec frames must be a positive integer, got ${frames}`))
  if (codes.length !== codebooks * frames) {
    return Effect.fail(badCodes(`codec input has ${codes.length} codes, expected ${codebooks} × ${frames} = ${codebooks * frames}`))
  }
  const values = new BigInt64Array(codes.length)
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!
    if (c < 0 || c >= codebookSize) {
      return Effect.fail(
        badCodes(`codec code ${c} at codebook ${Math.floor(i / frames)}, frame ${i % frames} is outside 0..${codebookSize - 1}`)
      )
    }
    values[i] = BigInt(c)
  }
  return Effect.succeed(new OrtTensor("int64", values, [codebooks, frames]))
}

/** Builds the decoder graph of a checkpoint's `codec_model.*` weights in memory and opens it (see `openCodecDecoder`). */
export const makeCodecDecoder = Effect.fn("makeCodecDecoder")(function*(
  weights: Weights,
  config: CodecConfig,
  backend: typeof InferenceBackend.Service
) {
  const layout = yield* codecLayout(config)
  const source = buildCodecGraph(layout, yield* loadCodecWeights(weights, layout))
  return yield* openCodecDecoder(config, source, backend)
})

/**
 * Opens the EnCodec decoder graph `source` (built bytes, or the path of a
 * converted model) as a session on `backend`, released with the scope.
 */
export const openCodecDecoder = Effect.fn("openCodecDecoder")(function*(
  config: CodecConfig,
  source: ModelSource,
  backend: typeof InferenceBackend.Service
) {
  const layout = yield* codecLayout(config)
  const session = yield* backend.createSession(source, { model: MODEL })

  const run = (output: string) => (codes: Int32Array, frames: number, codebooks: number = BARK_CODEBOOKS) =>
    Effect.gen(function*() {
      const feeds = { [CODES_INPUT]: yield* toCodesTensor(codes, frames, codebooks, layout.codebookSize) }
      const result = yield* session.run(feeds, [output])
      return result[output]!.data as Float32Array
    })

  return {
    sampleRate: layout.sampleRate,
    hopLength: layout.hopLength,
    decode: Effect.fn("CodecDecoder.decode")(run(WAVEFORM_OUTPUT)),
    embeddings: Effect.fn("CodecDecoder.embeddings")(run(EMBEDDINGS_OUTPUT))
  } satisfies EncodecDecoder
})
