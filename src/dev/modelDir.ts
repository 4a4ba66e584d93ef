/**
 * A random Bark checkpoint (./randomCheckpoint.ts) written as a Hugging Face
 * model directory, with everything the real ones hold besides the weights:
 * generation and tokenizer configs, a small WordPiece vocabulary, and random
 * voices under `speaker_embeddings/`.
 *
 * @since 0.5.0
 */
import { Effect, FileSystem, Path } from "effect"
import { encodeNpy } from "../checkpoint/npy.ts"
import { encode as encodeSafetensors } from "../checkpoint/safetensors.ts"
import { make } from "../checkpoint/Tensor.ts"
import { writeAtomic } from "../files/writeAtomic.ts"
import { makeRandom, type Random } from "./random.ts"
import { CODEBOOK_SIZE, FINE_CODEBOOKS, type RandomCheckpoint } from "./randomCheckpoint.ts"

const GENERATION_CONFIG = {
  codebook_size: CODEBOOK_SIZE,
  model_type: "bark",
  sample_rate: 24000,
  transformers_version: "4.31.0",
  semantic_config: {
    do_sample: true,
    eos_token_id: 10_000,
    max_input_semantic_length: 256,
    max_new_tokens: 768,
    renormalize_logits: true,
    semantic_infer_token: 129_599,
    semantic_pad_token: 10_000,
    semantic_rate_hz: 49.9,
    semantic_vocab_size: 10_000,
    temperature: 0.7,
    text_encoding_offset: 10_048,
    text_pad_token: 129_595,
    top_k: 50
  },
  coarse_acoustics_config: {
    coarse_infer_token: 12_050,
    coarse_rate_hz: 75,
    coarse_semantic_pad_token: 12_048,
    do_sample: true,
    max_coarse_history: 630,
    max_coarse_input_length: 256,
    n_coarse_codebooks: 2,
    sliding_window_len: 60,
    temperature: 0.7,
    top_k: 50
  },
  fine_acoustics_config: {
    max_fine_history_length: 512,
    max_fine_input_length: 1024,
    n_fine_codebooks: FINE_CODEBOOKS,
    temperature: 0.5
  }
}

const TOKENIZER_CONFIG = {
  clean_up_tokenization_spaces: true,
  cls_token: "[CLS]",
  do_lower_case: false,
  mask_token: "[MASK]",
  model_max_length: 512,
  pad_token: "[PAD]",
  processor_class: "BarkProcessor",
  sep_token: "[SEP]",
  strip_accents: null,
  tokenize_chinese_chars: true,
  tokenizer_class: "BertTokenizer",
  unk_token: "[UNK]"
}

const COMMON_WORDS = (
  "the of and to a in is it you that he was for on are with as I his they be at one have this from or had by " +
  "not word but what some we can out other were all there when up use your how said an each she which do their " +
  "time if will way about many then them write would like so these her long make thing see him two has look more " +
  "day could go come did number sound no most people my over know water than call first who may down side been now " +
  "find hello world test voice speech audio model text music sing song happy today yes okay thanks please good " +
  "morning night The A It This He She We They You Hello Hi Yes No"
).split(" ")

/**
 * A small WordPiece vocabulary in mBERT's layout: line 0 `[PAD]`, lines 1–99
 * `[unused1]`…`[unused99]`, 100 `[UNK]`, 101 `[CLS]`, 102 `[SEP]`, 103
 * `[MASK]`; then every printable ASCII character (so any ASCII word can be
 * spelled), `##` + each letter and digit (continuations), and a few hundred
 * common English words and capitalised forms. Ids differ from the real
 * 119 547-entry mBERT vocabulary past 103.
 */
export const minimalVocab = (): ReadonlyArray<string> => {
  const printable = Array.from({ length: 126 - 33 + 1 }, (_, i) => String.fromCharCode(33 + i))
  const alnum = printable.filter((c) => /[A-Za-z0-9]/.test(c))
  return [
    "[PAD]",
    ...Array.from({ length: 99 }, (_, i) => `[unused${i + 1}]`),
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    ...printable,
    ...alnum.map((c) => `##${c}`),
    ...new Set(COMMON_WORDS.filter((w) => w.length > 1))
  ]
}

export interface ModelDirOptions {
  /** Number of random voices written under `speaker_embeddings/v2/en_speaker_<n>` (default 2). */
  readonly voices?: number
  /** Seed of the voices' codes (default 1). */
  readonly seed?: number
}

/** A random voice prompt: semantic int64 [Ns], coarse int64 [2, 1.5·Ns], fine int32 [8, 1.5·Ns], coarse = fine[0:2]. */
const randomVoice = (random: Random) => {
  const semanticLength = 2 * (40 + Math.floor(random.uniform() * 40))
  const frames = (semanticLength * 3) / 2
  const semantic = BigInt64Array.from({ length: semanticLength }, () => BigInt(Math.floor(random.uniform() * 10_000)))
  const fine = Int32Array.from({ length: FINE_CODEBOOKS * frames }, () => Math.floor(random.uniform() * CODEBOOK_SIZE))
  const coarse = BigInt64Array.from(fine.subarray(0, 2 * frames), BigInt)
  const bytes = (a: BigInt64Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
  return {
    semantic_prompt: make("I64", [semanticLength], bytes(semantic)),
    coarse_prompt: make("I64", [2, frames], bytes(coarse)),
    fine_prompt: make("I32", [FINE_CODEBOOKS, frames], bytes(fine))
  }
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n")

/**
 * Writes `checkpoint` as a Hugging Face Bark model directory: config.json,
 * model.safetensors, generation_config.json, tokenizer_config.json, a minimal
 * vocab.txt (see `minimalVocab`), and random voices with
 * speaker_embeddings_path.json. Every file is written to a temporary name and
 * renamed into place.
 */
export const writeBarkModelDir = Effect.fn("writeBarkModelDir")(function*(
  dir: string,
  checkpoint: RandomCheckpoint,
  options: ModelDirOptions = {}
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const write = (relative: string, data: Uint8Array) =>
    Effect.gen(function*() {
      const target = path.join(dir, relative)
      yield* fs.makeDirectory(path.dirname(target), { recursive: true })
      yield* writeAtomic(target, data)
    })

  yield* write("config.json", json(checkpoint.config))
  yield* write("generation_config.json", json(GENERATION_CONFIG))
  yield* write("tokenizer_config.json", json(TOKENIZER_CONFIG))
  yield* write("vocab.txt", new TextEncoder().encode(minimalVocab().join("\n") + "\n"))
  yield* write("model.safetensors", encodeSafetensors(checkpoint.tensors, { format: "pt" }))

  const random = makeRandom(options.seed ?? 1)
  const index: Record<string, unknown> = { repo_or_path: "." }
  for (let n = 0; n < (options.voices ?? 2); n++) {
    const name = `v2/en_speaker_${n}`
    const files: Record<string, string> = {}
    for (const [key, tensor] of Object.entries(randomVoice(random))) {
      files[key] = `speaker_embeddings/${name}_${key}.npy`
      yield* write(files[key], encodeNpy(tensor))
    }
    index[name] = files
  }
  yield* write("speaker_embeddings_path.json", json(index))
})
