/**
 * Which files of a Bark repository (suno/bark, suno/bark-small) the pipeline
 * needs: the configs, the tokenizer vocabulary, the weights (safetensors when
 * the revision has them, else the pickle), the voice index
 * (`speaker_embeddings_path.json`), and the three prompt arrays of each
 * requested voice preset.
 *
 * @since 0.1.0
 */

/** The voice index, mapping voice names to their prompt arrays. */
export const VOICE_INDEX = "speaker_embeddings_path.json"

const ALWAYS = ["config.json", "generation_config.json", "vocab.txt", VOICE_INDEX]

const PROMPT_KINDS = ["semantic", "coarse", "fine"] as const

/** The `.npy` files of a voice preset such as "v2/en_speaker_6" or "announcer". */
export const voiceFiles = (voice: string): ReadonlyArray<string> =>
  PROMPT_KINDS.map((kind) => `speaker_embeddings/${voice}_${kind}_prompt.npy`)

const semanticPrompt = /^speaker_embeddings\/(.+)_semantic_prompt\.npy$/

/** The voice presets a listing has in full (all three prompt arrays), sorted. */
export const voicesIn = (files: ReadonlyArray<string>): ReadonlyArray<string> => {
  const listed = new Set(files)
  return files
    .flatMap((f) => semanticPrompt.exec(f)?.slice(1, 2) ?? [])
    .filter((voice) => voiceFiles(voice).every((f) => listed.has(f)))
    .sort()
}

/**
 * The files to fetch, for `snapshotDownload`'s `select`. Required files and
 * the requested voices' files are named even when the listing lacks them, so
 * a missing one is reported by name instead of silently skipped.
 */
export const barkFiles = (
  siblings: ReadonlyArray<{ readonly rfilename: string }>,
  voices: ReadonlyArray<string>
): ReadonlyArray<string> => {
  const listed = new Set(siblings.map((s) => s.rfilename))
  const weights = listed.has("model.safetensors") ? "model.safetensors" : "pytorch_model.bin"
  return [...ALWAYS, weights, ...voices.flatMap(voiceFiles)]
}
