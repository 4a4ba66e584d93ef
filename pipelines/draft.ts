/**
 * The draft lane: the synthesis recipe without the fine stage — the codec
 * decodes the two coarse codebooks (EnCodec at 1.5 kbps instead of 6). Faster
 * and duller; for previews. `--synthesis draft` (BARK_SYNTHESIS=draft).
 */
import { draft } from "../src/bark/synthesis/recipes.ts"

export default draft
