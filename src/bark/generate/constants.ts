/**
 * Bark's fixed token layout and rates, as suno-ai/bark's `generation.py`
 * defines them. Every id a generation stage feeds a model is built from these.
 *
 * @since 0.1.0
 */

/** Semantic tokens are 0..9999. */
export const SEMANTIC_VOCAB_SIZE = 10_000
/** Semantic history pad, and the semantic model's end-of-sequence symbol. */
export const SEMANTIC_PAD_TOKEN = 10_000
export const SEMANTIC_RATE_HZ = 49.9
/** Added to every BERT id in the semantic model's input. */
export const TEXT_ENCODING_OFFSET = 10_048
export const TEXT_PAD_TOKEN = 129_595
export const SEMANTIC_INFER_TOKEN = 129_599
/** Largest BERT id that stays below TEXT_PAD_TOKEN once offset (mBERT has 119 547 ids). */
export const MAX_TEXT_ID = TEXT_PAD_TOKEN - TEXT_ENCODING_OFFSET - 1
/** Length of the text field and of the semantic history field. */
export const CONTEXT_FIELD_LENGTH = 256
/** Positions of the GPTs' context (learned position table). */
export const BLOCK_SIZE = 1024
/** Loop bound of the semantic stage. */
export const MAX_SEMANTIC_TOKENS = 768

export const CODEBOOK_SIZE = 1024
export const N_COARSE_CODEBOOKS = 2
export const N_FINE_CODEBOOKS = 8
export const COARSE_RATE_HZ = 75
export const COARSE_SEMANTIC_PAD_TOKEN = 12_048
export const COARSE_INFER_TOKEN = 12_050
/** Coarse tokens (both codebooks together) per semantic token: 3.006012… */
export const SEMANTIC_TO_COARSE_RATIO = (COARSE_RATE_HZ / SEMANTIC_RATE_HZ) * N_COARSE_CODEBOOKS

/** Fine model window and hop, in frames; the fine history is at most one hop. */
export const FINE_WINDOW = 1024
export const FINE_HOP = 512
/** Fills fine codebooks that are not predicted yet. */
export const FINE_PAD = CODEBOOK_SIZE
