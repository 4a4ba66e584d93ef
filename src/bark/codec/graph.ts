/**
 * The EnCodec 24 kHz decoder as one ONNX graph: residual-vector-quantizer
 * lookup of the first n of Bark's 8 codebooks, then the SEANet decoder (conv,
 * 2-layer LSTM with skip, four ELU → ConvTranspose1d → residual-block stages,
 * ELU, conv).
 *
 * Input `codes` is int64 [n, frames], n in 1..8, with codes in
 * 0..codebookSize-1 (the caller checks n and the range). n is a dynamic
 * dimension, so one graph (and one session) decodes at every bandwidth:
 * 8 codebooks are Bark's 6 kbps, 2 (the coarse stage's alone) 1.5 kbps. As in
 * EnCodec's `ResidualVectorQuantization.decode`, the quantizer's output is the
 * sum of the first n codebooks' rows. Outputs: `embeddings` [codebookDim,
 * frames] (the quantizer's output) and `waveform` [frames · hopLength].
 *
 * Padding follows EnCodec's causal convolutions: each stride-1 conv is
 * reflect-padded on the left by (k−1)·d; each transposed conv drops all of its
 * k−s overhang on the right.
 *
 * @since 0.1.0
 */
import { BARK_CODEBOOKS, type CodecLayout, type ConvLayer, type UpsampleLayer } from "./config.ts"
import type { CodecWeights, ConvWeights, LstmLayerWeights } from "./weights.ts"
import { type BuildOptions, type BuiltModel, float, GraphBuilder, type Value } from "../../onnx/graph.ts"

export const CODES_INPUT = "codes"
export const EMBEDDINGS_OUTPUT = "embeddings"
export const WAVEFORM_OUTPUT = "waveform"

/**
 * Sums the first n codebook rows of every frame with one Gather over the
 * stacked codebooks: codes [n, frames] → [dim, frames]. Codebook k's rows start
 * at k · codebookSize in the stack, so each row of `codes` is shifted by its
 * codebook's offset; the offsets are sliced to the codes' first dimension.
 */
const quantizerDecode = (g: GraphBuilder, layout: CodecLayout, weights: CodecWeights, codes: Value): Value => {
  const { codebookSize: size, codebookDim: dim } = layout
  const stacked = new Float32Array(BARK_CODEBOOKS * size * dim)
  weights.codebooks.forEach((table, k) => stacked.set(table, k * size * dim))
  const table = g.initializer("quantizer.codebooks", stacked, [BARK_CODEBOOKS * size, dim])
  const allOffsets = g.ints(Array.from({ length: BARK_CODEBOOKS }, (_, k) => k * size), [BARK_CODEBOOKS, 1])
  const n = g.op("Shape", [codes], { start: 0, end: 1 }, [{ dtype: "int64", shape: [1] }])[0]!
  const offsets = g.op("Slice", [allOffsets, g.ints([0]), n, g.ints([0])], {}, [{ dtype: "int64", shape: [codes.shape![0]!, 1] }])[0]!
  const rows = g.gather(table, g.add(codes, offsets)) // [n, frames, dim]
  return g.transpose(g.reduceSum(rows, [0]), [1, 0])
}

const elu = (g: GraphBuilder, x: Value): Value => g.op("Elu", [x], { alpha: float(1) }, [{ dtype: x.dtype, shape: x.shape }])[0]!

/**
 * Left-only reflect padding by `pad` samples. When the input may be no longer
 * than `pad` (reflection would run off its end), it is first extended with
 * `pad` zeros and those are cut again afterwards — what EnCodec's `pad1d`
 * does for short inputs.
 */
const causalReflectPad = (g: GraphBuilder, x: Value, pad: number, minLength: number): Value => {
  const reflect = (v: Value) =>
    g.op("Pad", [v, g.ints([0, 0, pad, 0, 0, 0])], { mode: "reflect" }, [{ dtype: v.dtype }])[0]!
  if (minLength > pad) return reflect(x)
  const extended = g.op("Pad", [x, g.ints([0, 0, 0, 0, 0, pad])], { mode: "constant" }, [{ dtype: x.dtype }])[0]!
  return g.slice(reflect(extended), [0], [-pad], [2])
}

/** Causal stride-1 Conv1d: [1, in, L] → [1, out, L]. */
const conv1d = (g: GraphBuilder, x: Value, layer: ConvLayer, w: ConvWeights, minLength: number, length: string): Value => {
  const pad = (layer.kernel - 1) * layer.dilation
  const input = pad === 0 ? x : causalReflectPad(g, x, pad, minLength)
  const weight = g.initializer(`${layer.name}.weight`, w.weight, w.shape)
  const bias = g.initializer(`${layer.name}.bias`, w.bias, [layer.outChannels])
  return g.op("Conv", [input, weight, bias], { kernel_shape: [layer.kernel], dilations: [layer.dilation], strides: [1] }, [
    { dtype: "float32", shape: [1, layer.outChannels, length] }
  ])[0]!
}

/** Causal ConvTranspose1d: [1, in, L] → [1, out, L·stride]; the k−s overhang is trimmed on the right via `pads`. */
const convTranspose1d = (g: GraphBuilder, x: Value, layer: UpsampleLayer, w: ConvWeights, length: string): Value => {
  const weight = g.initializer(`${layer.name}.weight`, w.weight, w.shape)
  const bias = g.initializer(`${layer.name}.bias`, w.bias, [layer.outChannels])
  return g.op(
    "ConvTranspose",
    [x, weight, bias],
    { kernel_shape: [layer.kernel], strides: [layer.stride], pads: [0, layer.kernel - layer.stride] },
    [{ dtype: "float32", shape: [1, layer.outChannels, length] }]
  )[0]!
}

/** PyTorch stacks LSTM gates as i, f, g, o; ONNX expects i, o, f, c (c = PyTorch's g). */
const ONNX_GATE_ORDER = [0, 3, 1, 2] as const

const reorderGates = (m: Float32Array): Float32Array => {
  const block = m.length / 4
  const out = new Float32Array(m.length)
  ONNX_GATE_ORDER.forEach((from, to) => out.set(m.subarray(from * block, (from + 1) * block), to * block))
  return out
}

/** Stacked LSTM over time with the input added to its output: [1, C, L] → [1, C, L]. */
const lstmWithSkip = (g: GraphBuilder, x: Value, layout: CodecLayout, layers: ReadonlyArray<LstmLayerWeights>): Value => {
  const width = layout.lstmWidth
  const sequence = g.transpose(x, [2, 0, 1]) // [L, 1, C]
  const output = layers.reduce((input, w, n) => {
    const name = `${layout.lstmName}.l${n}`
    const W = g.initializer(`${name}.W`, reorderGates(w.inputWeight), [1, 4 * width, width])
    const R = g.initializer(`${name}.R`, reorderGates(w.recurrentWeight), [1, 4 * width, width])
    const bias = new Float32Array(8 * width)
    bias.set(reorderGates(w.inputBias))
    bias.set(reorderGates(w.recurrentBias), 4 * width)
    const B = g.initializer(`${name}.B`, bias, [1, 8 * width])
    const [y] = g.op("LSTM", [input, W, R, B], { hidden_size: width }, [{ dtype: "float32", shape: [input.shape![0]!, 1, 1, width] }])
    return g.squeeze(y!, [1]) // [L, 1, C]
  }, sequence)
  return g.transpose(g.add(output, sequence), [1, 2, 0])
}

/** Builds the decoder graph from folded weights. */
export const buildCodecGraph = (layout: CodecLayout, weights: CodecWeights, options: BuildOptions = {}): BuiltModel => {
  const g = new GraphBuilder("encodec_decoder")
  const codes = g.input(CODES_INPUT, "int64", ["codebooks", "frames"])
  const embeddings = quantizerDecode(g, layout, weights, codes)
  g.output(embeddings, EMBEDDINGS_OUTPUT)

  let x = conv1d(g, g.unsqueeze(embeddings, [0]), layout.firstConv, weights.firstConv, 1, "frames")
  x = lstmWithSkip(g, x, layout, weights.lstm)
  // The shortest possible input at each point (one frame), to know where short-input padding can occur.
  let minLength = 1
  layout.stages.forEach((stage, i) => {
    const w = weights.stages[i]!
    minLength *= stage.upsample.stride
    const length = `frames*${minLength}`
    x = convTranspose1d(g, elu(g, x), stage.upsample, w.upsample, length)
    stage.residuals.forEach((block, j) => {
      const bw = w.residuals[j]!
      const inner = conv1d(g, elu(g, x), block.first, bw.first, minLength, length)
      const y = conv1d(g, elu(g, inner), block.second, bw.second, minLength, length)
      const skip = block.shortcut && bw.shortcut ? conv1d(g, x, block.shortcut, bw.shortcut, minLength, length) : x
      x = g.add(skip, y)
    })
  })
  x = conv1d(g, elu(g, x), layout.lastConv, weights.lastConv, minLength, `frames*${minLength}`)
  g.output(g.reshape(x, [-1]), WAVEFORM_OUTPUT)
  return g.build(options)
}
