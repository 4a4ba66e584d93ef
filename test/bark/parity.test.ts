/**
 * Parity with the reference implementation: every golden case folder under
 * ../shared/fixtures/golden gets its forward-pass outputs written by
 * `writeParityOutputs` and compared by `compareWithGolden` (compare.py's rules).
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { compareArrays, compareWithGolden, writeParityOutputs } from "../../src/bark/parity.ts"
import { fromFloat32, fromInt64 } from "../../src/checkpoint/Tensor.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"

const goldenRoot = fileURLToPath(new URL("../../../shared/fixtures/golden/", import.meta.url))
const cases = existsSync(goldenRoot)
  ? readdirSync(goldenRoot, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
  : []

/** End-to-end generation outputs belong to the generation stage, not to forward passes. */
const isForwardOutput = (file: string) => !file.startsWith("e2e_")

const env = Layer.mergeAll(NodeServices.layer, InferenceBackend.cpu({ intraOpNumThreads: 2 }))

describe("golden parity", () => {
  it("finds the golden cases", () => {
    assert.isAbove(cases.length, 0, `no case folders under ${goldenRoot}`)
  })

  for (const name of cases) {
    it.effect(`${name}: every forward-pass output matches the reference`, () =>
      Effect.gen(function*() {
        const out = mkdtempSync(join(tmpdir(), "bark-parity-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(out, { recursive: true, force: true })))
        const caseDir = join(goldenRoot, name)
        const written = yield* writeParityOutputs(caseDir, out)
        const results = (yield* compareWithGolden(caseDir, out)).filter((r) => isForwardOutput(r.file))
        assert.isAbove(results.length, 0)
        for (const r of results) {
          assert.strictEqual(r.status, "pass", `${r.file}: ${r.status} (max abs ${r.maxAbs}, ${r.note})`)
        }
        assert.sameMembers([...written], results.map((r) => r.file))
      }).pipe(Effect.provide(env)))
  }
})

describe("compareArrays", () => {
  const floats = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>) => fromFloat32(shape, Float32Array.from(values))

  it("applies atol + rtol to logits and atol alone to other floats", () => {
    const golden = floats([2], [100, 0])
    assert.strictEqual(compareArrays("x_logits.npy", golden, floats([2], [100.1, 0.0009])).status, "pass")
    assert.strictEqual(compareArrays("x_logits.npy", golden, floats([2], [100.2, 0])).status, "fail")
    assert.strictEqual(compareArrays("wave.npy", golden, floats([2], [100.001, 0])).status, "fail")
    assert.strictEqual(compareArrays("wave.npy", golden, floats([2], [100, 0.00009])).status, "pass")
  })

  it("tolerates size-1 axes only, and compares integers exactly", () => {
    assert.strictEqual(compareArrays("w.npy", floats([1, 2], [1, 2]), floats([2], [1, 2])).status, "pass")
    assert.strictEqual(compareArrays("w.npy", floats([2, 1], [1, 2]), floats([1, 2], [1, 2])).status, "pass")
    assert.strictEqual(compareArrays("w.npy", floats([2], [1, 2]), floats([4], [1, 2, 3, 4])).status, "fail")
    const tokens = fromInt64([3], BigInt64Array.of(1n, 2n, 3n))
    assert.strictEqual(compareArrays("t.npy", tokens, fromInt64([3], BigInt64Array.of(1n, 2n, 3n))).status, "pass")
    const off = compareArrays("t.npy", tokens, fromInt64([3], BigInt64Array.of(1n, 2n, 4n)))
    assert.strictEqual(off.status, "fail")
    assert.include(off.note, "first at flat index 2")
    assert.strictEqual(compareArrays("t.npy", tokens, floats([3], [1, 2, 3.5])).status, "fail")
  })

  it("rejects non-finite candidates", () => {
    assert.strictEqual(compareArrays("w.npy", floats([1], [0]), floats([1], [NaN])).status, "fail")
  })
})
