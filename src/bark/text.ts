/**
 * Long-form text: splitting a text that is too long for one Bark generation
 * into chunks that each fit one. Bark's semantic stage stops after 768 tokens
 * (15.4 s of speech), and reads only 256 BERT ids, so a chunk should hold
 * about 14 s of speech at most. At an ordinary speaking rate of 2.5–3 words
 * per second that is about 40 words: the default budget. When a token counter
 * is given (e.g. the BERT tokenizer), a chunk must also stay within
 * `maxTokens` ids, which keeps scripts without spaces (CJK) in bounds too.
 *
 * Sentences (Intl.Segmenter) are packed greedily into chunks; a sentence over
 * the budget on its own is cut at word boundaries and its pieces are flagged.
 * No text is dropped: the chunks are consecutive slices of the normalised text.
 *
 * @since 0.1.0
 */
import { normalizeText } from "./tokenizer.ts"

export interface TextChunk {
  /** The chunk, trimmed. */
  readonly text: string
  /** Its slice `[start, end)` of the normalised text (trailing whitespace included). */
  readonly start: number
  readonly end: number
  /** The chunk is part of a sentence too long for one generation, cut at a word boundary. */
  readonly splitSentence: boolean
}

export interface SplitOptions {
  /** Most words (Intl.Segmenter word-like segments) per chunk. Default 40. */
  readonly maxWords?: number
  /** Counts the model ids of a piece of text, e.g. `(s) => tokenizer.encode(s).length`. */
  readonly countTokens?: (text: string) => number
  /** Most ids per chunk when `countTokens` is given. Default 128, half the semantic model's text field. */
  readonly maxTokens?: number
  /** Locale for sentence and word boundaries; default the runtime's. */
  readonly locale?: string
}

export interface SplitText {
  /** The text after suno's whitespace normalisation; the chunks slice it. */
  readonly normalized: string
  readonly chunks: ReadonlyArray<TextChunk>
}

interface Span {
  readonly start: number
  readonly end: number
}

/** Splits `text` into chunks that each fit one Bark generation. */
export const splitText = (text: string, options: SplitOptions = {}): SplitText => {
  const normalized = normalizeText(text)
  const maxWords = options.maxWords ?? 40
  const maxTokens = options.maxTokens ?? 128
  const words = new Intl.Segmenter(options.locale, { granularity: "word" })
  const sentences = new Intl.Segmenter(options.locale, { granularity: "sentence" })

  const wordCount = (s: string) => {
    let n = 0
    for (const segment of words.segment(s)) if (segment.isWordLike) n++
    return n
  }
  const fits = ({ start, end }: Span) => {
    const s = normalized.slice(start, end)
    return wordCount(s) <= maxWords && (options.countTokens === undefined || options.countTokens(s) <= maxTokens)
  }

  /** Cuts an over-long sentence before the first word that would overflow; every piece keeps ≥ 1 word. */
  const cutSentence = ({ start, end }: Span): Array<Span> => {
    const pieces: Array<Span> = []
    let from = start
    let hasWord = false
    for (const segment of words.segment(normalized.slice(start, end))) {
      if (!segment.isWordLike) continue
      const at = start + segment.index
      if (hasWord && !fits({ start: from, end: at + segment.segment.length })) {
        pieces.push({ start: from, end: at })
        from = at
      }
      hasWord = true
    }
    pieces.push({ start: from, end })
    return pieces
  }

  const chunks: Array<TextChunk> = []
  const emit = (span: Span, splitSentence: boolean) =>
    chunks.push({ text: normalized.slice(span.start, span.end).trim(), ...span, splitSentence })
  let open: Span | undefined
  for (const { index, segment } of sentences.segment(normalized)) {
    const sentence = { start: index, end: index + segment.length }
    if (open !== undefined && fits({ start: open.start, end: sentence.end })) {
      open = { start: open.start, end: sentence.end }
      continue
    }
    if (open !== undefined) emit(open, false)
    open = undefined
    if (fits(sentence)) open = sentence
    else for (const piece of cutSentence(sentence)) emit(piece, true)
  }
  if (open !== undefined) emit(open, false)
  return { normalized, chunks }
}
