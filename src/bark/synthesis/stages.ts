/**
 * The synthesis stages, by name, for recipes that reorder, replace or reuse
 * them (`bark-pipeline/bark`'s `SynthesisStages`). Each module holds one
 * stage; ./recipes.ts puts them in order.
 *
 * @since 0.5.0
 */
export { stage as audioCache } from "./audioCache.ts"
export { stage as codec } from "./codec.ts"
export { stage as coarse } from "./coarse.ts"
export { stage as fine } from "./fine.ts"
export { stage as normalizeText } from "./normalizeText.ts"
export { stage as post } from "./post.ts"
export { stage as semantic } from "./semantic.ts"
export { stage as split } from "./split.ts"
export { stage as tokenize } from "./tokenize.ts"
export { stage as voice } from "./voice.ts"
