import { assert, describe, it } from "@effect/vitest"
import { splitText, type SplitText } from "../../src/bark/text.ts"

const words = (n: number, word = "word") => Array.from({ length: n }, (_, i) => `${word}${i}`).join(" ")

/** The chunks are consecutive slices that rebuild the normalised text, each trimmed into `text`. */
const assertLossless = ({ normalized, chunks }: SplitText) => {
  assert.strictEqual(chunks.map((c) => normalized.slice(c.start, c.end)).join(""), normalized)
  for (const c of chunks) assert.strictEqual(c.text, normalized.slice(c.start, c.end).trim())
}

const wordCount = (s: string) => s.split(" ").filter((w) => w !== "").length

describe("splitText", () => {
  it("keeps a short text whole, normalising whitespace", () => {
    const split = splitText("  Hello   there.\n\nHow are\tyou?  ")
    assert.strictEqual(split.normalized, "Hello there. How are you?")
    assert.deepStrictEqual(split.chunks.map((c) => [c.text, c.splitSentence]), [["Hello there. How are you?", false]])
  })

  it("returns no chunks for blank text", () => {
    assert.deepStrictEqual(splitText(" \n\t ").chunks, [])
  })

  it("packs whole sentences up to the word budget", () => {
    const sentence = (i: number) => `${words(9, `S${i}w`)}.`
    const text = Array.from({ length: 10 }, (_, i) => sentence(i)).join(" ")
    const split = splitText(text, { maxWords: 40 })
    assertLossless(split)
    // four 9-word sentences fit in 40 words, a fifth does not
    assert.deepStrictEqual(split.chunks.map((c) => wordCount(c.text)), [36, 36, 18])
    assert.isTrue(split.chunks.every((c) => !c.splitSentence && c.text.endsWith(".")))
  })

  it("cuts a sentence longer than one window at word boundaries and flags the pieces", () => {
    const text = `Short one. ${words(100, "Word")} end. Another short one.`
    const split = splitText(text, { maxWords: 40 })
    assertLossless(split)
    const flagged = split.chunks.filter((c) => c.splitSentence)
    assert.deepStrictEqual(flagged.map((c) => wordCount(c.text)), [40, 40, 21])
    assert.isTrue(flagged[0]!.text.startsWith("Word0 "))
    assert.deepStrictEqual(split.chunks.filter((c) => !c.splitSentence).map((c) => c.text), ["Short one.", "Another short one."])
  })

  it("also respects a token budget, e.g. for text without spaces", () => {
    const text = "今日は良い天気です。".repeat(30)
    const countTokens = (s: string) => Array.from(s).length
    const split = splitText(text, { countTokens, maxTokens: 50, locale: "ja" })
    assertLossless(split)
    assert.isAbove(split.chunks.length, 5)
    for (const c of split.chunks) assert.isAtMost(countTokens(c.text), 50)
  })

  it("keeps a single word longer than the budget rather than dropping it", () => {
    const long = "x".repeat(300)
    const split = splitText(`a b ${long} c`, { countTokens: (s) => s.length, maxTokens: 100 })
    assertLossless(split)
    assert.include(split.chunks.map((c) => c.text), long)
  })
})
