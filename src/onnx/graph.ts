/**
 * A small typed builder for ONNX graphs, over onnx-proto.
 *
 * Model code reads like a model definition:
 *
 * ```ts
 * const g = new GraphBuilder("block")
 * const x = g.input("x", "float32", ["T", 768])
 * const w = g.initializer("ln.weight", new Float32Array(768).fill(1), [768])
 * g.output(g.gelu(g.layerNorm(x, w)), "y")
 * const model = g.build()
 * ```
 *
 * Every value carries its element type and (where the builder can tell) its
 * shape; dims are numbers or symbolic names. The helpers check what is cheap to
 * check (matching dtypes, inner dimensions, ranks) and throw a `GraphError`
 * naming the node, so a wrong weight shape fails while building rather than
 * deep inside onnxruntime. `op` builds any node for which there is no helper.
 *
 * @since 0.1.0
 */
import protobuf from "onnx-proto"
import type { onnx as proto } from "onnx-proto"
import { concatBytes } from "../files/bytes.ts"
import { blocksPerRow, type QuantizedMatrix } from "./blockQuant.ts"

const { onnx } = protobuf

/** Element types the graphs use. */
export type DataType = "float32" | "float16" | "int64" | "int32" | "uint8" | "bool"

/** A dimension: a size, or a symbolic name (unknown or free). */
export type Dim = number | string
export type Shape = ReadonlyArray<Dim>

/** A tensor flowing through the graph. `shape` is undefined when even the rank is unknown. */
export interface Value {
  readonly name: string
  readonly dtype: DataType
  readonly shape: Shape | undefined
}

/** Typed arrays an initializer can be made from; the dtype follows from the array type (Uint16Array = float16). */
export type InitializerData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array

/** Attribute values: integers, strings, int lists, string lists, or floats via `float`/`floats`. */
export type Attribute =
  | number
  | string
  | ReadonlyArray<number>
  | ReadonlyArray<string>
  | { readonly float: number }
  | { readonly floats: ReadonlyArray<number> }

export const float = (value: number): Attribute => ({ float: value })
export const floats = (values: ReadonlyArray<number>): Attribute => ({ floats: values })

/**
 * An external weight file of a built model, as the pieces to write one after
 * another (the initializers' own bytes and alignment padding): writing them
 * in turn never needs a second copy of the weights in memory.
 */
export interface ExternalFile {
  readonly path: string
  readonly parts: ReadonlyArray<Uint8Array>
}

/** A serialised model: the `.onnx` bytes plus the external weight files it refers to (names relative to it). */
export interface BuiltModel {
  readonly model: Uint8Array
  readonly externalData: ReadonlyArray<ExternalFile>
}

/** An external file's bytes in one buffer (for onnxruntime's in-memory `externalData`). */
export const joinParts = (file: ExternalFile): Uint8Array => concatBytes(file.parts)

export interface BuildOptions {
  /** Store initializers of at least `minBytes` (default 1024) in one external file of this name. */
  readonly externalDataPath?: string
  readonly minExternalBytes?: number
}

/** A graph was assembled wrongly: mismatched dtypes or shapes, duplicate names. Carries the node that failed. */
export class GraphError extends Error {
  override readonly name = "GraphError"
}

export const OPSET_AI_ONNX = 21
export const OPSET_MICROSOFT = 1
const IR_VERSION = 10

const elemType: Record<DataType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  uint8: onnx.TensorProto.DataType.UINT8,
  bool: onnx.TensorProto.DataType.BOOL
}

const dataTypeOf = (data: InitializerData): DataType =>
  data instanceof Float32Array
    ? "float32"
    : data instanceof Uint16Array
    ? "float16"
    : data instanceof BigInt64Array
    ? "int64"
    : data instanceof Int32Array
    ? "int32"
    : "uint8"

const isFloat = (t: DataType) => t === "float32" || t === "float16"
const isIndex = (t: DataType) => t === "int64" || t === "int32"
const knownSize = (shape: Shape): number | undefined =>
  shape.every((d) => typeof d === "number") ? (shape as ReadonlyArray<number>).reduce((a, b) => a * b, 1) : undefined

/** Numpy broadcasting over possibly symbolic dims; throws on two different concrete sizes (neither 1). */
const broadcast = (op: string, a: Shape, b: Shape): Shape => {
  const rank = Math.max(a.length, b.length)
  const out: Array<Dim> = []
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1
    const db = b[b.length - rank + i] ?? 1
    if (da === 1) out.push(db)
    else if (db === 1 || da === db) out.push(da)
    else if (typeof da === "number" && typeof db === "number") {
      throw new GraphError(`${op}: cannot broadcast [${a.join(", ")}] with [${b.join(", ")}]`)
    } else out.push(typeof da === "number" ? da : db)
  }
  return out
}

const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis)

export class GraphBuilder {
  readonly name: string
  private readonly nodes: Array<proto.INodeProto> = []
  private readonly inputs: Array<Value> = []
  private readonly outputs: Array<Value> = []
  private readonly initializers: Array<{ readonly value: Value; readonly dims: ReadonlyArray<number>; readonly data: InitializerData }> = []
  private readonly names = new Set<string>()
  private counter = 0

  constructor(name: string) {
    this.name = name
  }

  // ---------------------------------------------------------------- structure

  /** A graph input; string dims are symbolic. */
  input(name: string, dtype: DataType, shape: Shape): Value {
    const value = { name: this.claim(name), dtype, shape }
    this.inputs.push(value)
    return value
  }

  /** Marks `value` as a graph output named `name` (an Identity node is added when the names differ). */
  output(value: Value, name: string = value.name): Value {
    const out = value.name === name ? value : this.node("Identity", [value], {}, { name, dtype: value.dtype, shape: value.shape })
    this.outputs.push(out)
    return out
  }

  /** A constant tensor stored in the model. Names must be unique; the data is referenced, not copied, until `build`. */
  initializer(name: string, data: InitializerData, shape: ReadonlyArray<number>): Value {
    const n = shape.reduce((a, b) => a * b, 1)
    if (n !== data.length) {
      throw new GraphError(`initializer ${name}: shape [${shape.join(", ")}] needs ${n} values, got ${data.length}`)
    }
    const value = { name: this.claim(name), dtype: dataTypeOf(data), shape }
    this.initializers.push({ value, dims: shape, data })
    return value
  }

  /** A small anonymous int64 constant (shapes, axes, indices). */
  ints(values: ReadonlyArray<number>, shape: ReadonlyArray<number> = [values.length]): Value {
    return this.initializer(this.fresh("const"), BigInt64Array.from(values, BigInt), shape)
  }

  /** A small anonymous float32 constant. */
  floats(values: ReadonlyArray<number>, shape: ReadonlyArray<number> = [values.length]): Value {
    return this.initializer(this.fresh("const"), Float32Array.from(values), shape)
  }

  /**
   * Any node. `inputs` may hold `null` for an omitted optional input. Returns
   * one value per entry of `outputs` (dtype and shape as declared; the shape
   * may be left undefined).
   */
  op(
    opType: string,
    inputs: ReadonlyArray<Value | null>,
    attributes: Readonly<Record<string, Attribute>>,
    outputs: ReadonlyArray<{ readonly dtype: DataType; readonly shape?: Shape | undefined; readonly name?: string }>,
    domain = ""
  ): Array<Value> {
    const values = outputs.map((o) => ({ name: this.claim(o.name ?? this.fresh(opType)), dtype: o.dtype, shape: o.shape }))
    this.nodes.push({
      opType,
      domain,
      name: `${opType}_${this.nodes.length}`,
      input: inputs.map((v) => v?.name ?? ""),
      output: values.map((v) => v.name),
      attribute: Object.entries(attributes).map(([key, a]) => encodeAttribute(key, a))
    })
    return values
  }

  // ------------------------------------------------------------- arithmetic

  add(a: Value, b: Value): Value {
    return this.binary("Add", a, b)
  }
  sub(a: Value, b: Value): Value {
    return this.binary("Sub", a, b)
  }
  mul(a: Value, b: Value): Value {
    return this.binary("Mul", a, b)
  }
  div(a: Value, b: Value): Value {
    return this.binary("Div", a, b)
  }

  /** `a @ b` with numpy semantics; checks the inner dimension. */
  matmul(a: Value, b: Value): Value {
    this.sameType("MatMul", a, b)
    let shape: Shape | undefined
    if (a.shape && b.shape) {
      if (a.shape.length < 2 || b.shape.length < 2) throw new GraphError(`MatMul: operands must have rank >= 2`)
      const k1 = a.shape[a.shape.length - 1]!
      const k2 = b.shape[b.shape.length - 2]!
      if (typeof k1 === "number" && typeof k2 === "number" && k1 !== k2) {
        throw new GraphError(`MatMul: inner dimensions differ: [${a.shape.join(", ")}] @ [${b.shape.join(", ")}]`)
      }
      const batch = broadcast("MatMul", a.shape.slice(0, -2), b.shape.slice(0, -2))
      shape = [...batch, a.shape[a.shape.length - 2]!, b.shape[b.shape.length - 1]!]
    }
    return this.node("MatMul", [a, b], {}, { dtype: a.dtype, shape })
  }

  /**
   * `x · wᵀ (+ bias)` as one Gemm, for a 2-D `x` [M, K] and a PyTorch-layout
   * weight `w` [N, K]. For single-row `x` (decode steps) a MatMul over a
   * pre-transposed weight is faster on onnxruntime's CPU provider.
   */
  linear(x: Value, w: Value, bias?: Value): Value {
    this.sameType("Gemm", x, w)
    const [m, k] = this.rank("Gemm", x, 2) as [Dim, Dim]
    const [n, k2] = this.rank("Gemm", w, 2) as [Dim, Dim]
    if (typeof k === "number" && typeof k2 === "number" && k !== k2) {
      throw new GraphError(`Gemm: x [${m}, ${k}] does not fit weight [${n}, ${k2}] (expected [N, ${k}])`)
    }
    return this.node("Gemm", bias ? [x, w, bias] : [x, w], { transB: 1 }, { dtype: x.dtype, shape: [m, n] })
  }

  /**
   * `x · Wᵀ` for a weight quantised in the "blocks" layout (./blockQuant.ts),
   * as com.microsoft MatMulNBits; `x` is `[..., K]`, the result `[..., N]`.
   * `accuracyLevel` 0 computes in float32; 4 quantises `x` to int8 per block
   * (faster on CPUs, with a small extra error).
   */
  matmulNBits(x: Value, name: string, w: QuantizedMatrix, accuracyLevel: 0 | 4): Value {
    if (w.layout !== "blocks") throw new GraphError(`MatMulNBits ${name}: needs the "blocks" code layout`)
    const last = x.shape?.[x.shape.length - 1]
    if (typeof last === "number" && last !== w.cols) {
      throw new GraphError(`MatMulNBits ${name}: x [${x.shape!.join(", ")}] does not fit a [${w.rows}, ${w.cols}] weight`)
    }
    const blocks = blocksPerRow(w.cols, w.scheme)
    const codes = this.initializer(`${name}.codes`, w.codes, [w.rows, blocks, w.scheme.blockSize * w.scheme.bits / 8])
    const scales = this.initializer(`${name}.scales`, w.scales, [w.rows * blocks])
    const attributes = { K: w.cols, N: w.rows, bits: w.scheme.bits, block_size: w.scheme.blockSize, accuracy_level: accuracyLevel }
    const shape = x.shape && [...x.shape.slice(0, -1), w.rows]
    return this.op("MatMulNBits", [x, codes, scales], attributes, [{ dtype: x.dtype, shape }], "com.microsoft")[0]!
  }

  /** Rows `indices` of a table quantised in the "rows" layout, dequantised: com.microsoft GatherBlockQuantized. */
  gatherBlockQuantized(name: string, table: QuantizedMatrix, indices: Value): Value {
    if (table.layout !== "rows") throw new GraphError(`GatherBlockQuantized ${name}: needs the "rows" code layout`)
    if (!isIndex(indices.dtype)) throw new GraphError(`GatherBlockQuantized ${name}: indices must be int32/int64, got ${indices.dtype}`)
    const data = this.initializer(`${name}.codes`, table.codes, [table.rows, table.cols * table.scheme.bits / 8])
    const scales = this.initializer(`${name}.scales`, table.scales, [table.rows, blocksPerRow(table.cols, table.scheme)])
    const attributes = { gather_axis: 0, quantize_axis: 1, block_size: table.scheme.blockSize, bits: table.scheme.bits }
    const shape = indices.shape && [...indices.shape, table.cols]
    return this.op("GatherBlockQuantized", [data, indices, scales], attributes, [{ dtype: "float32", shape }], "com.microsoft")[0]!
  }

  // ---------------------------------------------------------- activations

  /** LayerNormalization over the last axis; `bias` optional. */
  layerNorm(x: Value, scale: Value, bias?: Value, epsilon = 1e-5): Value {
    this.sameType("LayerNormalization", x, scale)
    const last = x.shape?.[x.shape.length - 1]
    const width = scale.shape?.[0]
    if (typeof last === "number" && typeof width === "number" && last !== width) {
      throw new GraphError(`LayerNormalization: scale has ${width} entries, input's last axis ${last}`)
    }
    return this.node("LayerNormalization", bias ? [x, scale, bias] : [x, scale], { axis: -1, epsilon: float(epsilon) }, {
      dtype: x.dtype,
      shape: x.shape
    })
  }

  /** GELU, exact (erf) form unless `approximate` is "tanh". */
  gelu(x: Value, approximate: "none" | "tanh" = "none"): Value {
    return this.unary("Gelu", x, { approximate })
  }

  softmax(x: Value, axis = -1): Value {
    return this.unary("Softmax", x, { axis })
  }

  // --------------------------------------------------------------- shaping

  /** Gather along `axis` (an embedding lookup with axis 0). */
  gather(data: Value, indices: Value, axis = 0): Value {
    if (!isIndex(indices.dtype)) throw new GraphError(`Gather: indices must be int32/int64, got ${indices.dtype}`)
    let shape: Shape | undefined
    if (data.shape && indices.shape) {
      const a = normAxis(axis, data.shape.length)
      shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)]
    }
    return this.node("Gather", [data, indices], { axis }, { dtype: data.dtype, shape })
  }

  /** Reshape to `shape` (0 copies a dim, -1 is inferred). */
  reshape(x: Value, shape: ReadonlyArray<number>): Value {
    let out: Shape | undefined
    if (x.shape) {
      const dims: Array<Dim> = shape.map((d, i) => (d === 0 ? x.shape![i]! : d))
      const total = knownSize(x.shape)
      const infer = dims.indexOf(-1)
      if (infer >= 0) {
        const rest = knownSize(dims.filter((_, i) => i !== infer))
        dims[infer] = total !== undefined && rest !== undefined ? total / rest : `${this.fresh("reshape")}_d${infer}`
      }
      const size = knownSize(dims)
      if (total !== undefined && size !== undefined && size !== total) {
        throw new GraphError(`Reshape: [${x.shape.join(", ")}] cannot become [${shape.join(", ")}]`)
      }
      out = dims
    }
    return this.node("Reshape", [x, this.ints(shape)], {}, { dtype: x.dtype, shape: out })
  }

  transpose(x: Value, perm: ReadonlyArray<number>): Value {
    if (x.shape && x.shape.length !== perm.length) throw new GraphError(`Transpose: perm ${perm} for rank ${x.shape.length}`)
    return this.node("Transpose", [x], { perm }, { dtype: x.dtype, shape: x.shape && perm.map((p) => x.shape![p]!) })
  }

  unsqueeze(x: Value, axes: ReadonlyArray<number>): Value {
    let shape: Shape | undefined
    if (x.shape) {
      const rank = x.shape.length + axes.length
      const at = new Set(axes.map((a) => normAxis(a, rank)))
      const rest = [...x.shape]
      shape = Array.from({ length: rank }, (_, i) => (at.has(i) ? 1 : rest.shift()!))
    }
    return this.node("Unsqueeze", [x, this.ints(axes)], {}, { dtype: x.dtype, shape })
  }

  squeeze(x: Value, axes: ReadonlyArray<number>): Value {
    let shape: Shape | undefined
    if (x.shape) {
      const at = new Set(axes.map((a) => normAxis(a, x.shape!.length)))
      for (const a of at) {
        const d = x.shape[a]
        if (typeof d === "number" && d !== 1) throw new GraphError(`Squeeze: axis ${a} has size ${d}`)
      }
      shape = x.shape.filter((_, i) => !at.has(i))
    }
    return this.node("Squeeze", [x, this.ints(axes)], {}, { dtype: x.dtype, shape })
  }

  /** `x[starts:ends]` along `axes` (negative indices count from the end; use a large `end` for "to the end"). */
  slice(x: Value, starts: ReadonlyArray<number>, ends: ReadonlyArray<number>, axes: ReadonlyArray<number>): Value {
    let shape: Shape | undefined
    if (x.shape) {
      const dims = [...x.shape]
      axes.forEach((axis, i) => {
        const a = normAxis(axis, dims.length)
        const d = dims[a]!
        const s = starts[i]!
        const e = ends[i]!
        dims[a] = typeof d === "number"
          ? Math.max(0, clampIndex(e, d) - clampIndex(s, d))
          : s >= 0 && e >= 0 && e < 2 ** 31
          ? e - s
          : s < 0 && e >= 2 ** 31
          ? -s
          : `${this.fresh("slice")}_d${a}`
      })
      shape = dims
    }
    return this.node("Slice", [x, this.ints(starts), this.ints(ends), this.ints(axes)], {}, { dtype: x.dtype, shape })
  }

  concat(xs: ReadonlyArray<Value>, axis: number): Value {
    const first = xs[0]
    if (!first) throw new GraphError("Concat: no inputs")
    xs.forEach((x) => this.sameType("Concat", first, x))
    let shape: Shape | undefined
    if (xs.every((x) => x.shape && x.shape.length === first.shape!.length)) {
      const a = normAxis(axis, first.shape!.length)
      const sizes = xs.map((x) => x.shape![a]!)
      const dims = [...first.shape!]
      dims[a] = sizes.every((s) => typeof s === "number")
        ? (sizes as Array<number>).reduce((p, q) => p + q, 0)
        : `${this.fresh("concat")}_d${a}`
      shape = dims
    }
    return this.node("Concat", xs, { axis }, { dtype: first.dtype, shape })
  }

  reduceSum(x: Value, axes: ReadonlyArray<number>, keepdims = false): Value {
    let shape: Shape | undefined
    if (x.shape) {
      const at = new Set(axes.map((a) => normAxis(a, x.shape!.length)))
      shape = keepdims ? x.shape.map((d, i) => (at.has(i) ? 1 : d)) : x.shape.filter((_, i) => !at.has(i))
    }
    return this.node("ReduceSum", [x, this.ints(axes)], { keepdims: keepdims ? 1 : 0 }, { dtype: x.dtype, shape })
  }

  cast(x: Value, to: DataType): Value {
    return this.node("Cast", [x], { to: elemType[to] }, { dtype: to, shape: x.shape })
  }

  // ----------------------------------------------------------------- build

  /** Serialises the model (IR 10, opsets ai.onnx 21 and com.microsoft 1). */
  build(options: BuildOptions = {}): BuiltModel {
    const external = options.externalDataPath
    const minBytes = options.minExternalBytes ?? 1024
    const chunks: Array<Uint8Array> = []
    let offset = 0
    const initializer = this.initializers.map(({ value, dims, data }) => {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      const tensor: proto.ITensorProto = { name: value.name, dataType: elemType[value.dtype], dims: [...dims] }
      if (external === undefined || bytes.byteLength < minBytes) return { ...tensor, rawData: bytes }
      const padded = (offset + 63) & ~63 // keep each tensor 64-byte aligned inside the file
      if (padded > offset) chunks.push(new Uint8Array(padded - offset))
      chunks.push(bytes)
      const entry = {
        ...tensor,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: "location", value: external },
          { key: "offset", value: String(padded) },
          { key: "length", value: String(bytes.byteLength) }
        ]
      }
      offset = padded + bytes.byteLength
      return entry
    })
    const graph: proto.IGraphProto = {
      name: this.name,
      node: this.nodes,
      input: this.inputs.map(valueInfo),
      output: this.outputs.map(valueInfo),
      initializer
    }
    const model = onnx.ModelProto.encode({
      irVersion: IR_VERSION,
      producerName: "bark-pipeline",
      opsetImport: [
        { domain: "", version: OPSET_AI_ONNX },
        { domain: "com.microsoft", version: OPSET_MICROSOFT }
      ],
      graph
    }).finish()
    return { model, externalData: external === undefined || chunks.length === 0 ? [] : [{ path: external, parts: chunks }] }
  }

  // --------------------------------------------------------------- private

  private node(opType: string, inputs: ReadonlyArray<Value>, attributes: Readonly<Record<string, Attribute>>, out: {
    readonly dtype: DataType
    readonly shape: Shape | undefined
    readonly name?: string
  }): Value {
    return this.op(opType, inputs, attributes, [out])[0]!
  }

  private binary(opType: string, a: Value, b: Value): Value {
    this.sameType(opType, a, b)
    const shape = a.shape && b.shape ? broadcast(opType, a.shape, b.shape) : undefined
    return this.node(opType, [a, b], {}, { dtype: a.dtype, shape })
  }

  private unary(opType: string, x: Value, attributes: Readonly<Record<string, Attribute>>): Value {
    if (!isFloat(x.dtype)) throw new GraphError(`${opType}: expects a float input, got ${x.name} of ${x.dtype}`)
    return this.node(opType, [x], attributes, { dtype: x.dtype, shape: x.shape })
  }

  private sameType(opType: string, a: Value, b: Value) {
    if (a.dtype !== b.dtype) throw new GraphError(`${opType}: ${a.name} is ${a.dtype} but ${b.name} is ${b.dtype}`)
  }

  private rank(opType: string, x: Value, rank: number): Shape {
    if (!x.shape) return Array.from({ length: rank }, (_, i) => `${x.name}_d${i}`)
    if (x.shape.length !== rank) throw new GraphError(`${opType}: ${x.name} must have rank ${rank}, has shape [${x.shape.join(", ")}]`)
    return x.shape
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new GraphError(`duplicate value name "${name}" in graph ${this.name}`)
    this.names.add(name)
    return name
  }

  private fresh(prefix: string): string {
    let name: string
    do name = `${prefix}_${this.counter++}`
    while (this.names.has(name))
    return name
  }
}

const clampIndex = (i: number, size: number) => Math.min(size, Math.max(0, i < 0 ? i + size : i))

const valueInfo = (v: Value): proto.IValueInfoProto => ({
  name: v.name,
  type: {
    tensorType: {
      elemType: elemType[v.dtype],
      ...(v.shape ? { shape: { dim: v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } : {})
    }
  }
})

const isStrings = (a: ReadonlyArray<number> | ReadonlyArray<string>): a is ReadonlyArray<string> =>
  typeof a[0] === "string"

const encodeAttribute = (name: string, a: Attribute): proto.IAttributeProto => {
  const T = onnx.AttributeProto.AttributeType
  if (typeof a === "number") {
    if (!Number.isInteger(a)) throw new GraphError(`attribute ${name}: ${a} is not an integer; use float(${a})`)
    return { name, type: T.INT, i: a }
  }
  if (typeof a === "string") return { name, type: T.STRING, s: new TextEncoder().encode(a) }
  if ("float" in a) return { name, type: T.FLOAT, f: a.float }
  if ("floats" in a) return { name, type: T.FLOATS, floats: [...a.floats] }
  if (isStrings(a)) return { name, type: T.STRINGS, strings: a.map((s) => new TextEncoder().encode(s)) }
  return { name, type: T.INTS, ints: [...a] }
}
