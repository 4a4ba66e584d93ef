/**
 * The graph builder: what it checks while building, and that what it builds
 * runs in onnxruntime with the expected numbers, inline or with external data.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Tensor } from "onnxruntime-node"
import { float, GraphBuilder, GraphError } from "../../src/onnx/graph.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"

/** y = Elu(x · wᵀ + b) over x [T, 3], w [2, 3]: a linear layer and a float attribute. */
const smallModel = () => {
  const g = new GraphBuilder("small")
  const x = g.input("x", "float32", ["T", 3])
  const w = g.initializer("w", Float32Array.of(1, 2, 3, -1, 0, 1), [2, 3])
  const b = g.initializer("b", Float32Array.of(0.5, -4), [2])
  const [y] = g.op("Elu", [g.linear(x, w, b)], { alpha: float(0.5) }, [{ dtype: "float32", shape: ["T", 2] }])
  g.output(y!, "y")
  return g
}

const expected = (x: ReadonlyArray<number>) => {
  const out: Array<number> = []
  for (let t = 0; t < x.length / 3; t++) {
    const [a, c, d] = [x[3 * t]!, x[3 * t + 1]!, x[3 * t + 2]!]
    for (const v of [a + 2 * c + 3 * d + 0.5, -a + d - 4]) out.push(v > 0 ? v : 0.5 * (Math.exp(v) - 1))
  }
  return out
}

describe("GraphBuilder", () => {
  it("infers shapes through the helpers", () => {
    const g = new GraphBuilder("shapes")
    const ids = g.input("ids", "int64", [2, "T"])
    const table = g.initializer("table", new Float32Array(40), [10, 4])
    const e = g.gather(table, ids)
    assert.deepStrictEqual(e.shape, [2, "T", 4])
    assert.deepStrictEqual(g.reduceSum(e, [0]).shape, ["T", 4])
    assert.deepStrictEqual(g.reshape(g.initializer("m", new Float32Array(12), [3, 4]), [2, -1]).shape, [2, 6])
    assert.deepStrictEqual(g.slice(e, [-1], [Number.MAX_SAFE_INTEGER], [1]).shape, [2, 1, 4])
    assert.deepStrictEqual(g.unsqueeze(e, [0]).shape, [1, 2, "T", 4])
  })

  it("rejects mismatched shapes, dtypes and duplicate names with the node named", () => {
    const g = new GraphBuilder("bad")
    const x = g.input("x", "float32", ["T", 3])
    const w = g.initializer("w", new Float32Array(8), [2, 4])
    assert.throws(() => g.linear(x, w), GraphError, /Gemm/)
    assert.throws(() => g.matmul(x, g.initializer("m", new Float32Array(8), [4, 2])), GraphError, /inner dimensions/)
    assert.throws(() => g.add(x, g.input("i", "int64", ["T", 3])), GraphError, /Add/)
    assert.throws(() => g.initializer("w", new Float32Array(8), [2, 4]), GraphError, /duplicate/)
    assert.throws(() => g.initializer("v", new Float32Array(7), [2, 4]), GraphError, /needs 8 values/)
    assert.throws(() => g.reshape(w, [3, 3]), GraphError, /Reshape/)
    assert.throws(() => g.op("Elu", [x], { alpha: 0.5 }, [{ dtype: "float32" }]), GraphError, /float\(0.5\)/)
  })

  for (const external of [false, true]) {
    it.effect(`builds a model onnxruntime runs (${external ? "external" : "inline"} weights)`, () =>
      Effect.gen(function*() {
        const model = smallModel().build(external ? { externalDataPath: "w.bin", minExternalBytes: 0 } : {})
        assert.strictEqual(model.externalData.length, external ? 1 : 0)
        const session = yield* (yield* InferenceBackend).createSession(model, { model: "small" })
        const x = [0.1, -0.2, 0.3, 1, 2, -3]
        const out = yield* session.run({ x: new Tensor("float32", Float32Array.from(x), [2, 3]) }, ["y"])
        const y = Array.from(out["y"]!.data as Float32Array)
        expected(x).forEach((v, i) => assert.closeTo(y[i]!, v, 1e-6))
      }).pipe(Effect.provide(InferenceBackend.cpu({ intraOpNumThreads: 1 }))))
  }
})
