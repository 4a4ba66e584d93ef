import { NodeServices } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, FileSystem } from "effect"
import { loadTokenizer, makeTokenizer, normalizeText } from "../../src/bark/tokenizer.ts"

const VOCAB = [
  "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
  "hello", "Hello", "world", "un", "##aff", "##able", "do", "n", "'", "t", ",", "!", "«", "»",
  "你", "好", "こんにちは", "é", "€", "##5", "a", "b", "ab", "##b", "x", "##n"
]
const vocabText = VOCAB.join("\n") + "\n"
const tokenizer = Effect.runSync(makeTokenizer(vocabText))
const tokens = (text: string) => Array.from(tokenizer.tokenize(text))

describe("normalizeText", () => {
  it("collapses Python's whitespace set to single spaces and strips", () => {
    assert.strictEqual(normalizeText("  a\u2003\u2003b\x1c\n\tc\u3000 "), "a b c")
    assert.strictEqual(normalizeText("x\u0085y\u2028z"), "x y z")
    // U+FEFF and U+200B are not whitespace to Python
    assert.strictEqual(normalizeText("\ufeffa\u200bb"), "\ufeffa\u200bb")
  })
})

describe("makeTokenizer", () => {
  it("maps tokens to their line index, without special tokens around the text", () => {
    assert.deepStrictEqual(Array.from(tokenizer.encode("hello world")), [5, 7])
    assert.strictEqual(tokenizer.vocabSize, VOCAB.length)
  })

  it("is cased and keeps accents; NFC joins decomposed characters", () => {
    assert.deepStrictEqual(tokens("Hello hello"), ["Hello", "hello"])
    assert.deepStrictEqual(tokens("e\u0301"), ["é"])
  })

  it("splits special-token literals first", () => {
    assert.deepStrictEqual(tokens("hello[SEP]world [MASK]!"), ["hello", "[SEP]", "world", "[MASK]", "!"])
    assert.deepStrictEqual(Array.from(tokenizer.encode("[CLS]")), [2])
  })

  it("drops NUL, U+FFFD and control/format characters; tabs, newlines and Zs separate words", () => {
    assert.deepStrictEqual(tokens("a\u0000b\ufffd"), ["ab"])
    assert.deepStrictEqual(tokens("a\u200bb\u0007"), ["ab"])
    assert.deepStrictEqual(tokens("a\tb\nab\u00a0x"), ["a", "b", "ab", "x"])
  })

  it("splits ASCII and Unicode punctuation but not symbols", () => {
    assert.deepStrictEqual(tokens("don't,hello!"), ["do", "##n", "'", "t", ",", "hello", "!"])
    assert.deepStrictEqual(tokens("«hello»"), ["«", "hello", "»"])
    assert.deepStrictEqual(tokens("€5"), ["€", "##5"]) // one word: € is a symbol, not punctuation
  })

  it("splits CJK ideographs into single characters but not kana", () => {
    assert.deepStrictEqual(tokens("你好こんにちは"), ["你", "好", "こんにちは"])
  })

  it("WordPiece: greedy longest match, whole-word [UNK] on failure, [UNK] above 100 characters", () => {
    assert.deepStrictEqual(tokens("unaffable"), ["un", "##aff", "##able"])
    assert.deepStrictEqual(tokens("abb"), ["ab", "##b"])
    assert.deepStrictEqual(tokens("unaffablez hello"), ["[UNK]", "hello"])
    assert.deepStrictEqual(tokens("a".repeat(100)), ["[UNK]"]) // no "##a" piece
    assert.deepStrictEqual(tokens("ab" + "b".repeat(98)), Array.of("ab", ...new Array(98).fill("##b")))
    assert.deepStrictEqual(tokens("ab" + "b".repeat(99)), ["[UNK]"])
    assert.deepStrictEqual(Array.from(tokenizer.encode("zzz")), [1])
  })

  it.effect("fails without an [UNK] token", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(makeTokenizer("a\nb\n"))
      assert.strictEqual(error._tag, "TokenizerError")
      assert.include(error.message, "[UNK]")
    }))
})

layer(NodeServices.layer)("loadTokenizer", (it) => {
  it.effect("reads vocab.txt, and names the file when it cannot", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "bark-vocab-" })
      yield* fs.writeFileString(`${dir}/vocab.txt`, vocabText)
      const loaded = yield* loadTokenizer(`${dir}/vocab.txt`)
      assert.deepStrictEqual(Array.from(loaded.encode("Hello, world")), [6, 15, 7])
      const error = yield* Effect.flip(loadTokenizer(`${dir}/missing.txt`))
      assert.strictEqual(error._tag, "TokenizerError")
      assert.include(error.message, "missing.txt")
    }))
})
