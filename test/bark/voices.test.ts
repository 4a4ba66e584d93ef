import { NodeServices } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { fileURLToPath } from "node:url"
import { encodeNpy } from "../../src/checkpoint/npy.ts"
import { make, type Tensor } from "../../src/checkpoint/Tensor.ts"
import { codesRow } from "../../src/bark/generate/Codes.ts"
import type { VoicePrompt } from "../../src/bark/generate/VoicePrompt.ts"
import { listVoices, loadVoice, voiceFromArrays } from "../../src/bark/voices.ts"

const caseDir = fileURLToPath(new URL("../../../shared/fixtures/golden/v1_small_mixed/", import.meta.url))
const npzPath = `${caseDir}voice_prompt.npz`

const int32Tensor = (shape: ReadonlyArray<number>, values: ArrayLike<number>): Tensor =>
  make("I32", shape, new Uint8Array(Int32Array.from(values).buffer))

const u16Tensor = (values: ArrayLike<number>): Tensor =>
  make("U16", [values.length], new Uint8Array(Uint16Array.from(values).buffer))

/** An npy whose data is stored in Fortran (column-major) order. */
const fortranNpy = (rows: number, cols: number, at: (r: number, c: number) => number): Uint8Array => {
  const columnMajor = Int32Array.from({ length: rows * cols }, (_, i) => at(i % rows, Math.floor(i / rows)))
  const bytes = encodeNpy(int32Tensor([rows, cols], columnMajor))
  const header = new TextDecoder().decode(bytes.subarray(10, 80)).replace("'fortran_order': False", "'fortran_order': True ")
  bytes.set(new TextEncoder().encode(header), 10)
  return bytes
}

const speakerIndex = (name: string, dir = "speaker_embeddings") =>
  JSON.stringify({
    repo_or_path: "someone/elsewhere",
    [name]: {
      semantic_prompt: `${dir}/${name}_semantic_prompt.npy`,
      coarse_prompt: `${dir}/${name}_coarse_prompt.npy`,
      fine_prompt: `${dir}/${name}_fine_prompt.npy`
    }
  })

/** Writes an HF-style model directory holding one voice made of the given npy files. */
const modelDir = (name: string, files: Record<"semantic" | "coarse" | "fine", Uint8Array>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const root = yield* fs.makeTempDirectoryScoped({ prefix: "bark-voices-" })
    const dir = `${root}/speaker_embeddings/v2`
    yield* fs.makeDirectory(dir, { recursive: true })
    yield* fs.writeFileString(`${root}/speaker_embeddings_path.json`, speakerIndex(name, "speaker_embeddings"))
    for (const [kind, bytes] of Object.entries(files)) {
      yield* fs.writeFile(`${root}/speaker_embeddings/${name}_${kind}_prompt.npy`, bytes)
    }
    return root
  })

const asArrays = (p: VoicePrompt) => ({
  semantic: Array.from(p.semantic),
  coarse: [p.coarse.rows, p.coarse.frames, Array.from(p.coarse.data)],
  fine: [p.fine.rows, p.fine.frames, Array.from(p.fine.data)]
})

layer(NodeServices.layer)("voices", (it) => {
  it.effect("reads a suno .npz voice", () =>
    Effect.gen(function*() {
      const voice = yield* loadVoice(caseDir, npzPath)
      assert.strictEqual(voice.semantic.length, 341)
      assert.deepStrictEqual([voice.coarse.rows, voice.coarse.frames], [2, 512])
      assert.deepStrictEqual([voice.fine.rows, voice.fine.frames], [8, 512])
      // values as numpy reads them (C order: row 1 starts at flat index 512)
      assert.deepStrictEqual(Array.from(voice.semantic.subarray(0, 3)), [3654, 1671, 4735])
      assert.deepStrictEqual(Array.from(codesRow(voice.coarse, 1).subarray(0, 3)), [502, 12, 808])
      assert.deepStrictEqual(Array.from(codesRow(voice.fine, 1).subarray(0, 3)), [453, 870, 203])
      assert.strictEqual(voice.fine.data.at(-1), 692)
    }))

  it.effect("lists the fixture's voices, ignoring repo_or_path", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* listVoices(caseDir), ["golden_speaker"])
    }))

  it.effect("gives the same prompt from the speaker-embeddings trio as from the .npz", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const fromNpz = yield* loadVoice(caseDir, npzPath)
      const read = (kind: string) => fs.readFile(`${caseDir}speaker_embeddings/golden_speaker_${kind}_prompt.npy`)
      const root = yield* modelDir("golden_speaker", {
        semantic: encodeNpy(
          make("I64", [fromNpz.semantic.length], new Uint8Array(BigInt64Array.from(fromNpz.semantic, BigInt).buffer))
        ),
        coarse: yield* read("coarse"),
        fine: yield* read("fine")
      })
      const fromTrio = yield* loadVoice(root, "golden_speaker")
      assert.deepStrictEqual(asArrays(fromTrio), asArrays(fromNpz))
    }))

  it.effect("honours Fortran order and uint16 arrays", () =>
    Effect.gen(function*() {
      const frames = 6
      const code = (r: number, c: number) => r * 100 + c
      const root = yield* modelDir("v2_like", {
        semantic: encodeNpy(u16Tensor([9, 8, 7, 6])),
        coarse: fortranNpy(2, frames, code),
        fine: fortranNpy(8, frames, code)
      })
      const voice = yield* loadVoice(root, "v2_like")
      assert.deepStrictEqual(Array.from(voice.semantic), [9, 8, 7, 6])
      assert.deepStrictEqual(Array.from(codesRow(voice.coarse, 1)), [100, 101, 102, 103, 104, 105])
      assert.deepStrictEqual(Array.from(codesRow(voice.fine, 7)), [700, 701, 702, 703, 704, 705])
    }))

  it.effect("an unknown name fails with the available voices; a directory without voices says so", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(loadVoice(caseDir, "v2/en_speaker_6"))
      assert.strictEqual(error._tag, "VoiceNotFound")
      if (error._tag === "VoiceNotFound") assert.deepStrictEqual(error.available, ["golden_speaker"])
      assert.include(error.message, "golden_speaker")

      const fs = yield* FileSystem.FileSystem
      const empty = yield* fs.makeTempDirectoryScoped({ prefix: "bark-novoice-" })
      assert.deepStrictEqual(yield* listVoices(empty), [])
      const none = yield* Effect.flip(loadVoice(empty, "announcer"))
      assert.include(none.message, "lists no voices")
    }))

  it.effect("lists only the voices whose files are there; a listed voice without files is unknown", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const semantic = encodeNpy(u16Tensor([1, 2, 3, 4]))
      const coarse = encodeNpy(int32Tensor([2, 6], new Array(12).fill(5)))
      const fine = encodeNpy(int32Tensor([8, 6], new Array(48).fill(5)))
      const root = yield* modelDir("here", { semantic, coarse, fine })
      // as in a hub snapshot: the index lists every voice of the repository, only some were fetched
      const index = JSON.parse(speakerIndex("here"))
      Object.assign(index, JSON.parse(speakerIndex("v2/not_fetched")))
      yield* fs.writeFileString(`${root}/speaker_embeddings_path.json`, JSON.stringify(index))
      assert.deepStrictEqual(yield* listVoices(root), ["here"])
      const error = yield* Effect.flip(loadVoice(root, "v2/not_fetched"))
      assert.strictEqual(error._tag, "VoiceNotFound")
      if (error._tag === "VoiceNotFound") assert.deepStrictEqual(error.available, ["here"])
      assert.include(error.message, "not in the model directory; available: here")
      assert.include(error.remediation, "BARK_VOICES=v2/not_fetched")
    }))

  it.effect("reports missing files, bad shapes, out-of-range codes and paths leaving the model directory", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const semantic = encodeNpy(u16Tensor([1, 2, 3, 4]))
      const coarse = encodeNpy(int32Tensor([2, 6], new Array(12).fill(5)))
      const fine = encodeNpy(int32Tensor([8, 6], new Array(48).fill(5)))

      const missing = yield* modelDir("a", { semantic, coarse, fine })
      yield* fs.remove(`${missing}/speaker_embeddings/a_semantic_prompt.npy`)
      const e1 = yield* Effect.flip(loadVoice(missing, "a"))
      assert.strictEqual(e1._tag, "InvalidVoicePrompt")
      assert.include(e1.message, "a_semantic_prompt.npy")

      const sevenRows = yield* modelDir("b", { semantic, coarse, fine: encodeNpy(int32Tensor([7, 6], new Array(42).fill(5))) })
      assert.include((yield* Effect.flip(loadVoice(sevenRows, "b"))).message, "fine_prompt has shape [7,6]")

      const tooBig = yield* modelDir("c", { semantic, coarse: encodeNpy(int32Tensor([2, 6], new Array(12).fill(1024))), fine })
      assert.include((yield* Effect.flip(loadVoice(tooBig, "c"))).message, "outside 0..1023")

      const escaping = yield* modelDir("d", { semantic, coarse, fine })
      yield* fs.writeFileString(`${escaping}/speaker_embeddings_path.json`, speakerIndex("d", "../elsewhere"))
      assert.include((yield* Effect.flip(loadVoice(escaping, "d"))).message, "outside the model directory")

      const notNpz = yield* Effect.flip(loadVoice(caseDir, `${caseDir}config.json.npz`))
      assert.strictEqual(notNpz._tag, "InvalidVoicePrompt")
    }))

  it.effect("voiceFromArrays rejects float arrays", () =>
    Effect.gen(function*() {
      const arrays = new Map<string, Tensor>([
        ["semantic_prompt", make("F32", [2], new Uint8Array(8))],
        ["coarse_prompt", int32Tensor([2, 3], new Array(6).fill(0))],
        ["fine_prompt", int32Tensor([8, 3], new Array(24).fill(0))]
      ])
      assert.include((yield* Effect.flip(voiceFromArrays("inline", arrays))).message, "dtype F32")
    }))
})
