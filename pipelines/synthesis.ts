/**
 * The synthesis recipe every request runs by default: once per request the
 * text is normalised (English numbers, currency, dates, symbols), split into
 * chunks and the voice loaded (and the audio cache consulted, with
 * BARK_AUDIO_CACHE=on); then per chunk tokenize → semantic → coarse → fine →
 * codec → post. `bark-pipeline plan synthesis` shows it; stages are in
 * src/bark/synthesis/.
 */
import { synthesis } from "../src/bark/synthesis/recipes.ts"

export default synthesis
