/**
 * The text tokenizer Bark was trained with: bert-base-multilingual-cased as
 * the slow (Python) `BertTokenizer` runs it, with no [CLS]/[SEP] added, plus
 * suno's whitespace normalisation. Built from a WordPiece `vocab.txt`.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Schema } from "effect"

export class TokenizerError extends Schema.TaggedError<TokenizerError>()("TokenizerError", {
  /** The vocabulary file, or "inline". */
  source: Schema.String,
  message: Schema.String,
  remediation: Schema.String
}) {}

export interface Tokenizer {
  readonly vocabSize: number
  /** The WordPiece tokens of `text` (special-token literals kept whole). */
  readonly tokenize: (text: string) => ReadonlyArray<string>
  /** Token ids of `text`, without special tokens around it. */
  readonly encode: (text: string) => Int32Array
}

/** Characters Python's `str.isspace()` (and so `re`'s `\s`) accepts. */
const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
const pySpaces = new RegExp(`[${PY_SPACE}]+`, "gu")
const pyTrim = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "gu")

/** suno-ai/bark's `_normalize_whitespace`: runs of whitespace → one space, then strip. */
export const normalizeText = (text: string): string => text.replace(pySpaces, " ").replace(pyTrim, "")

const SPECIAL_TOKENS = ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"]
const UNK = "[UNK]"
const MAX_WORD_CHARS = 100

const control = /\p{C}/u
const spaceSeparator = /\p{Zs}/u
const unicodePunctuation = /\p{P}/u

const isPunctuation = (cp: number, ch: string): boolean =>
  (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126) ||
  unicodePunctuation.test(ch)

/** The "Chinese character" blocks BERT splits into single-character words (not kana or hangul). */
const isCjk = (cp: number): boolean =>
  (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
  (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
  (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)

/** BERT's clean-up and CJK spacing: drop NUL, U+FFFD and controls; tab/newline/CR and Zs → " ". */
const cleanText = (text: string): string => {
  let out = ""
  for (const ch of text) {
    const cp = ch.codePointAt(0)!
    if (ch === "\t" || ch === "\n" || ch === "\r" || spaceSeparator.test(ch)) out += " "
    else if (cp === 0 || cp === 0xfffd || control.test(ch)) continue
    else if (isCjk(cp)) out += ` ${ch} `
    else out += ch
  }
  return out
}

/** Whitespace split, then every punctuation character as its own word. */
const basicTokens = (text: string): Array<string> => {
  const words: Array<string> = []
  for (const word of text.normalize("NFC").split(pySpaces)) {
    let current = ""
    for (const ch of word) {
      if (isPunctuation(ch.codePointAt(0)!, ch)) {
        if (current !== "") words.push(current)
        words.push(ch)
        current = ""
      } else {
        current += ch
      }
    }
    if (current !== "") words.push(current)
  }
  return words
}

/** Parses `vocab.txt` as BERT does: one token per line, id = line index (a later duplicate wins). */
const parseVocab = (text: string): Map<string, number> => {
  const lines = text.split("\n")
  if (lines.at(-1) === "") lines.pop()
  return new Map(lines.map((token, id) => [token, id]))
}

/** A tokenizer over the vocabulary in `vocabText` (the contents of a BERT `vocab.txt`). */
export const makeTokenizer = (vocabText: string, source = "inline"): Effect.Effect<Tokenizer, TokenizerError> => {
  const vocab = parseVocab(vocabText)
  const unkId = vocab.get(UNK)
  if (unkId === undefined) {
    return Effect.fail(
      new TokenizerError({
        source,
        message: `vocabulary ${source} has no ${UNK} token`,
        remediation: "Point the tokenizer at the vocab.txt of the Bark model (bert-base-multilingual-cased)."
      })
    )
  }
  const specials = SPECIAL_TOKENS.filter((t) => vocab.has(t))
  const specialPattern = specials.length === 0
    ? undefined
    : new RegExp(`(${specials.map((t) => t.replace(/[[\]]/g, "\\$&")).join("|")})`)

  /** Greedy longest-match-first; a word with an unmatched remainder is one [UNK]. */
  const wordPiece = (word: string, out: Array<string>) => {
    const chars = Array.from(word)
    if (chars.length > MAX_WORD_CHARS) {
      out.push(UNK)
      return
    }
    const pieces: Array<string> = []
    let start = 0
    while (start < chars.length) {
      let end = chars.length
      let piece: string | undefined
      while (start < end) {
        const candidate = (start > 0 ? "##" : "") + chars.slice(start, end).join("")
        if (vocab.has(candidate)) {
          piece = candidate
          break
        }
        end--
      }
      if (piece === undefined) {
        out.push(UNK)
        return
      }
      pieces.push(piece)
      start = end
    }
    out.push(...pieces)
  }

  const tokenize = (text: string): ReadonlyArray<string> => {
    const out: Array<string> = []
    const parts = specialPattern === undefined ? [text] : text.split(specialPattern)
    parts.forEach((part, i) => {
      // split() with a capture group puts the separators at odd indices
      if (i % 2 === 1) out.push(part)
      else for (const word of basicTokens(cleanText(part))) wordPiece(word, out)
    })
    return out
  }

  return Effect.succeed({
    vocabSize: vocab.size,
    tokenize,
    encode: (text) => Int32Array.from(tokenize(text), (t) => vocab.get(t) ?? unkId)
  })
}

/** Reads a `vocab.txt` and builds the tokenizer. */
export const loadTokenizer = Effect.fn("bark.loadTokenizer")(function*(vocabPath: string) {
  const fs = yield* FileSystem.FileSystem
  const text = yield* fs.readFileString(vocabPath).pipe(
    Effect.mapError((e) =>
      new TokenizerError({
        source: vocabPath,
        message: `cannot read the vocabulary ${vocabPath}: ${e.message}`,
        remediation: "Check that the model directory holds vocab.txt (download the model again if it is missing)."
      })
    )
  )
  return yield* makeTokenizer(text, vocabPath)
})
