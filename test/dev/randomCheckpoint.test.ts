/**
 * The random Bark checkpoint maker: determinism, the Hugging Face layout
 * (checked against the golden case's checkpoint, which has the tiny preset's
 * sizes), config variants, and the written model directory.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Schema } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { CodecConfig } from "../../src/bark/codec/config.ts"
import { decodeBarkConfig } from "../../src/bark/config.ts"
import { makeRandomCheckpoint, presets } from "../../src/dev/randomCheckpoint.ts"
import { minimalVocab, writeBarkModelDir } from "../../src/dev/modelDir.ts"
import { decodeNpy } from "../../src/checkpoint/npy.ts"
import { decode as decodeSafetensors, encode as encodeSafetensors } from "../../src/checkpoint/safetensors.ts"
import { toNumbers } from "../../src/checkpoint/Tensor.ts"

const tiny = presets.tiny
const goldenCheckpoint = fileURLToPath(new URL("../../../shared/fixtures/golden/v1_small_mixed/model.safetensors", import.meta.url))

const bytesEqual = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

describe("makeRandomCheckpoint", () => {
  it.effect("is deterministic: the same seed gives byte-identical tensors, another seed different ones", () =>
    Effect.gen(function*() {
      const a = encodeSafetensors((yield* makeRandomCheckpoint(tiny)).tensors)
      const b = encodeSafetensors((yield* makeRandomCheckpoint(tiny)).tensors)
      const c = encodeSafetensors((yield* makeRandomCheckpoint({ ...tiny, seed: 2 })).tensors)
      assert.isTrue(bytesEqual(a, b))
      assert.isFalse(bytesEqual(a, c))
    }))

  it.effect.skipIf(!existsSync(goldenCheckpoint))("has the golden checkpoint's keys and shapes at the same sizes", () =>
    Effect.gen(function*() {
      const golden = yield* decodeSafetensors(readFileSync(goldenCheckpoint))
      const ours = yield* makeRandomCheckpoint(tiny)
      const listing = (w: ReadonlyMap<string, { readonly shape: ReadonlyArray<number> }>) =>
        [...w].map(([k, t]) => `${k} [${t.shape.join(",")}]`).sort()
      assert.deepStrictEqual(listing(ours.tensors), listing(golden.tensors))
    }))

  it.effect("ties the fine heads to input tables 1..7, or omits them", () =>
    Effect.gen(function*() {
      const stored = (yield* makeRandomCheckpoint(tiny)).tensors
      for (let i = 0; i < 7; i++) {
        const head = stored.get(`fine_acoustics.lm_heads.${i}.weight`)!
        assert.isTrue(bytesEqual(head.data, stored.get(`fine_acoustics.input_embeds_layers.${i + 1}.weight`)!.data))
      }
      const omitted = (yield* makeRandomCheckpoint({ ...tiny, fineHeads: "omitted" })).tensors
      assert.isFalse([...omitted.keys()].some((k) => k.includes("lm_heads")))
      assert.isTrue(omitted.has("fine_acoustics.input_embeds_layers.7.weight"))
    }))

  it.effect("adds Linear and causal LayerNorm biases with bias on; stores F16 when asked", () =>
    Effect.gen(function*() {
      const { tensors } = yield* makeRandomCheckpoint({ ...tiny, bias: true, dtype: "F16" })
      for (const key of ["semantic.layers.0.attn.att_proj.bias", "coarse_acoustics.layers.1.mlp.in_proj.bias", "semantic.layernorm_final.bias"]) {
        assert.isTrue(tensors.has(key), key)
      }
      assert.deepStrictEqual(tensors.get("semantic.layers.0.mlp.in_proj.bias")!.shape, [64])
      assert.isFalse(tensors.has("semantic.lm_head.bias"))
      assert.isTrue([...tensors.values()].every((t) => t.dtype === "F16"))
    }))

  it.effect("keeps activations' inputs sane: LayerNorm weights near 1, heads with unit-spread logits", () =>
    Effect.gen(function*() {
      const { tensors } = yield* makeRandomCheckpoint(tiny)
      const ln = toNumbers(tensors.get("semantic.layers.0.layernorm_1.weight")!)
      assert.isTrue(ln.every((x) => Math.abs(x - 1) < 0.2))
      const head = toNumbers(tensors.get("semantic.lm_head.weight")!)
      const rms = Math.sqrt(head.reduce((s, x) => s + x * x, 0) / head.length)
      assert.closeTo(rms * Math.sqrt(16), 1, 0.05)
    }))

  it.effect("compact and legacy configs, full and minimal codec configs, all decode to the same BarkConfig", () =>
    Effect.gen(function*() {
      const compact = (yield* makeRandomCheckpoint(tiny)).config
      const legacy = (yield* makeRandomCheckpoint({ ...tiny, configForm: "legacy", codecConfig: "minimal" })).config
      const semantic = legacy.semantic_config as Record<string, unknown>
      assert.notProperty(semantic, "output_vocab_size")
      assert.property(semantic, "id2label")
      assert.deepStrictEqual(Object.keys(legacy.codec_config as object).sort(), ["_name_or_path", "architectures", "model_type", "num_filters", "target_bandwidths"])
      const a = yield* decodeBarkConfig(compact)
      const b = yield* decodeBarkConfig(legacy)
      assert.deepStrictEqual(a, b)
      assert.strictEqual(a.semantic_config.output_vocab_size, 10_048)
      assert.strictEqual(a.codec_config.num_filters, 4)
      assert.deepStrictEqual(yield* Schema.decodeUnknownEffect(CodecConfig)(compact.codec_config), a.codec_config)
    }))

  it.effect("rejects impossible sizes with a typed error", () =>
    Effect.gen(function*() {
      const heads = yield* Effect.flip(makeRandomCheckpoint({ ...tiny, semantic: { hidden: 16, heads: 3, layers: 2 } }))
      assert.strictEqual(heads._tag, "InvalidRandomCheckpointOptions")
      assert.include(heads.message, "semantic")
      const codebooks = yield* Effect.flip(makeRandomCheckpoint({ ...tiny, codebooks: 4 }))
      assert.include(codebooks.message, "codebooks")
    }))
})

describe("writeBarkModelDir", () => {
  it.effect("writes a model directory that loads back", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "bark-random-" })
      const checkpoint = yield* makeRandomCheckpoint(tiny)
      yield* writeBarkModelDir(dir, checkpoint, { voices: 2 })

      const loaded = yield* decodeSafetensors(readFileSync(`${dir}/model.safetensors`))
      assert.deepStrictEqual([...loaded.tensors.keys()].sort(), [...checkpoint.tensors.keys()].sort())
      const key = "coarse_acoustics.layers.1.attn.att_proj.weight"
      assert.isTrue(bytesEqual(loaded.tensors.get(key)!.data, checkpoint.tensors.get(key)!.data))
      assert.deepStrictEqual(JSON.parse(readFileSync(`${dir}/config.json`, "utf8")), checkpoint.config)
      yield* decodeBarkConfig(JSON.parse(readFileSync(`${dir}/config.json`, "utf8")))
      const generation = JSON.parse(readFileSync(`${dir}/generation_config.json`, "utf8"))
      assert.strictEqual(generation.semantic_config.text_encoding_offset, 10_048)

      const vocab = readFileSync(`${dir}/vocab.txt`, "utf8").split("\n")
      assert.deepStrictEqual([vocab[0], vocab[100], vocab[101], vocab[102], vocab[103]], ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
      assert.includeMembers(vocab, ["a", "##a", "hello", "."])
      assert.strictEqual(new Set(minimalVocab()).size, minimalVocab().length)

      const index = JSON.parse(readFileSync(`${dir}/speaker_embeddings_path.json`, "utf8"))
      const voices = Object.keys(index).filter((k) => k !== "repo_or_path")
      assert.deepStrictEqual(voices, ["v2/en_speaker_0", "v2/en_speaker_1"])
      for (const voice of voices) {
        const npy = (field: string) => decodeNpy(readFileSync(`${dir}/${index[voice][field]}`))
        const semantic = yield* npy("semantic_prompt")
        const coarse = yield* npy("coarse_prompt")
        const fine = yield* npy("fine_prompt")
        assert.deepStrictEqual([semantic.dtype, coarse.dtype, fine.dtype], ["I64", "I64", "I32"])
        assert.strictEqual(coarse.shape[1], (semantic.shape[0]! * 3) / 2)
        assert.deepStrictEqual(fine.shape, [8, coarse.shape[1]!])
        assert.deepStrictEqual(toNumbers(coarse), toNumbers(fine).slice(0, 2 * coarse.shape[1]!))
        assert.isTrue(toNumbers(fine).every((c) => c >= 0 && c < 1024))
      }
      const leftovers = readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".tmp"))
      assert.deepStrictEqual(leftovers, [])
    }).pipe(Effect.provide(NodeServices.layer)))
})
