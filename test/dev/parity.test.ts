/**
 * Parity with the reference implementation: every golden case folder under
 * ../shared/fixtures/golden and test/fixtures/golden (cases made with
 * ../shared/tools/golden from test/fixtures/golden/specs.json) gets all its
 * outputs (forward passes, codec and the greedy end-to-end runs) written by
 * `writeParityOutputs`, the function
 * behind `bark-pipeline parity`, and compared by `compareWithGolden`
 * (compare.py's rules) — every golden output file, none left out.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import { fileURLToPath } from "node:url"
import { voiceFromNpz } from "../../src/bark/voices.ts"
import { caseHistoryPrompt, compareArrays, compareWithGolden, writeParityOutputs } from "../../src/dev/parity.ts"
import { fromFloat32, fromInt64 } from "../../src/checkpoint/Tensor.ts"
import { InferenceBackend } from "../../src/onnx/InferenceBackend.ts"

const goldenRoot = fileURLToPath(new URL("../../../shared/fixtures/golden/", import.meta.url))
const localRoot = fileURLToPath(new URL("../fixtures/golden/", import.meta.url))
const caseDirs = (root: string) =>
  existsSync(root)
    ? readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(root, e.name, "config.json")))
      .map((e) => join(root, e.name))
    : []
const cases = [...caseDirs(goldenRoot), ...caseDirs(localRoot)]

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bark-parity-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const env = Layer.mergeAll(NodeServices.layer, InferenceBackend.cpu({ intraOpNumThreads: 2 }))

describe("golden parity", () => {
  it("finds the golden cases", () => {
    assert.isAbove(cases.length, 0, `no case folders under ${goldenRoot} or ${localRoot}`)
  })

  for (const caseDir of cases) {
    it.effect(`${basename(caseDir)}: every golden output (forward passes, codec, end-to-end runs) matches the reference`, () =>
      Effect.gen(function*() {
        const out = yield* tempDir
        const { files } = yield* writeParityOutputs(caseDir, out)
        const results = yield* compareWithGolden(caseDir, out)
        assert.isAbove(results.length, 0)
        for (const r of results) {
          assert.strictEqual(r.status, "pass", `${r.file}: ${r.status} (max abs ${r.maxAbs}, ${r.note})`)
        }
        assert.sameMembers([...files], results.map((r) => r.file))
      }).pipe(Effect.scoped, Effect.provide(env)), 120_000)

    it.effect(`${basename(caseDir)}: the end-to-end runs decoded together in one batch match the reference token for token`, () =>
      Effect.gen(function*() {
        const out = yield* tempDir
        const { notes } = yield* writeParityOutputs(caseDir, out, { batched: true })
        const e2e = (yield* compareWithGolden(caseDir, out)).filter((r) => r.file.startsWith("e2e"))
        if (e2e.length === 0) return // a case without end-to-end runs
        for (const r of e2e) assert.strictEqual(r.status, "pass", `${r.file}: ${r.status} (max abs ${r.maxAbs}, ${r.note})`)
        assert.include(notes.join("\n"), "the largest step held 2 sequences")
      }).pipe(Effect.scoped, Effect.provide(env)), 120_000)
  }
})

describe("caseHistoryPrompt", () => {
  const withCase = cases[0]
  it.effect("uses the speaker-embedding trio, and falls back to voice_prompt.npz, saying so, when a trio file is missing", () =>
    Effect.gen(function*() {
      if (withCase === undefined) return
      const source = withCase
      const npz = yield* voiceFromNpz("npz", readFileSync(join(source, "voice_prompt.npz")))

      const trio = yield* caseHistoryPrompt(source)
      assert.include(trio.note, "speaker-embedding voice")
      assert.deepStrictEqual(trio.voice, npz)

      // The voice files only, rewritten so the copy is writable (the fixtures are read-only).
      const copy = yield* tempDir
      mkdirSync(join(copy, "speaker_embeddings"))
      for (const file of ["speaker_embeddings_path.json", "voice_prompt.npz", ...readdirSync(join(source, "speaker_embeddings")).map((f) => join("speaker_embeddings", f))]) {
        writeFileSync(join(copy, file), readFileSync(join(source, file)))
      }
      const semantic = readdirSync(join(copy, "speaker_embeddings")).find((f) => f.endsWith("_semantic_prompt.npy"))!
      rmSync(join(copy, "speaker_embeddings", semantic))
      const fallback = yield* caseHistoryPrompt(copy)
      assert.include(fallback.note, "voice_prompt.npz, because")
      assert.include(fallback.note, semantic)
      assert.deepStrictEqual(fallback.voice, npz)

      rmSync(join(copy, "voice_prompt.npz"))
      const error = yield* Effect.flip(caseHistoryPrompt(copy))
      assert.strictEqual(error._tag, "ParityCaseError")
    }).pipe(Effect.scoped, Effect.provide(env)))
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
