/**
 * Voices (history prompts) from disk, in the two layouts Bark voices ship in:
 * suno-ai/bark `.npz` files (semantic_prompt, coarse_prompt, fine_prompt) and
 * Hugging Face model directories, whose `speaker_embeddings_path.json` maps a
 * name such as `v2/en_speaker_6` to three `.npy` files. Names resolve against
 * the model directory actually loaded; the file's `repo_or_path` is ignored.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path, Schema } from "effect"
import { decodeNpy } from "../checkpoint/npy.ts"
import { decodeNpz } from "../checkpoint/npz.ts"
import { type Tensor, toNumbers } from "../checkpoint/Tensor.ts"
import { makeCodes } from "./generate/Codes.ts"
import { InvalidVoicePrompt } from "./generate/errors.ts"
import { validateVoicePrompt, type VoicePrompt } from "./generate/VoicePrompt.ts"

export class VoiceNotFound extends Schema.TaggedError<VoiceNotFound>()("VoiceNotFound", {
  voice: Schema.String,
  /** The voices the model directory offers. */
  available: Schema.Array(Schema.String),
  message: Schema.String,
  remediation: Schema.String
}) {}

const INDEX_FILE = "speaker_embeddings_path.json"
const KEYS = ["semantic_prompt", "coarse_prompt", "fine_prompt"] as const
type PromptKey = (typeof KEYS)[number]
/** Shipped voice files are under 100 KB; anything far larger is not a voice. */
const MAX_VOICE_FILE_BYTES = 16 * 1024 * 1024

const invalid = (voice: string, message: string, remediation = "Pick another voice, or re-download the model files.") =>
  new InvalidVoicePrompt({ voice, message: `voice "${voice}": ${message}`, remediation })

/** Reads a voice file, refusing files too large to be one. */
const readSmallFile = (voice: string, file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(file)
    if (Number(info.size) > MAX_VOICE_FILE_BYTES) {
      return yield* invalid(voice, `${file} is ${info.size} bytes, too large for a voice prompt`)
    }
    return yield* fs.readFile(file)
  }).pipe(
    Effect.catchTag("PlatformError", (e) => Effect.fail(invalid(voice, `cannot read ${file}: ${e.message}`)))
  )

const integerValues = (voice: string, key: PromptKey, tensor: Tensor): Effect.Effect<Int32Array, InvalidVoicePrompt> => {
  if (tensor.dtype.startsWith("F") || tensor.dtype === "BF16" || tensor.dtype === "BOOL") {
    return Effect.fail(invalid(voice, `${key} has dtype ${tensor.dtype}; token arrays are integers`))
  }
  const values = toNumbers(tensor)
  const bad = values.findIndex((v) => v < 0 || v > 0x7fff_ffff)
  return bad >= 0
    ? Effect.fail(invalid(voice, `${key}[${bad}] = ${values[bad]} is not a token or code`))
    : Effect.succeed(Int32Array.from(values))
}

/** A prompt from the three arrays as numpy stores them (any integer dtype; Fortran order already resolved). */
export const voiceFromArrays = (
  voice: string,
  arrays: ReadonlyMap<string, Tensor>
): Effect.Effect<VoicePrompt, InvalidVoicePrompt> =>
  Effect.gen(function*() {
    const get = (key: PromptKey, rank: number, rows?: number) => {
      const tensor = arrays.get(key)
      if (tensor === undefined) return Effect.fail(invalid(voice, `${key} is missing`))
      if (tensor.shape.length !== rank || (rows !== undefined && tensor.shape[0] !== rows)) {
        return Effect.fail(
          invalid(voice, `${key} has shape ${JSON.stringify(tensor.shape)}, expected ${rows === undefined ? "[N]" : `[${rows}, T]`}`)
        )
      }
      return integerValues(voice, key, tensor)
    }
    const semantic = yield* get("semantic_prompt", 1)
    const coarse = yield* get("coarse_prompt", 2, 2)
    const fine = yield* get("fine_prompt", 2, 8)
    return yield* validateVoicePrompt(voice, {
      semantic,
      coarse: makeCodes(2, coarse.length / 2, coarse),
      fine: makeCodes(8, fine.length / 8, fine)
    })
  })

/** A prompt from the bytes of a suno `.npz` voice. */
export const voiceFromNpz = (voice: string, bytes: Uint8Array): Effect.Effect<VoicePrompt, InvalidVoicePrompt> =>
  decodeNpz(bytes, voice).pipe(
    Effect.mapError((e) => invalid(voice, e.message, e.remediation)),
    Effect.flatMap((arrays) => voiceFromArrays(voice, arrays))
  )

type VoiceIndex = ReadonlyMap<string, Readonly<Record<PromptKey, string>>>

/** The voices of `speaker_embeddings_path.json`: entries with the three relative paths (others are skipped). */
const parseIndex = (text: string, file: string): Effect.Effect<VoiceIndex, InvalidVoicePrompt> =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) => invalid(INDEX_FILE, `${file} is not valid JSON: ${String(e)}`)
  }).pipe(
    Effect.flatMap((json) => {
      if (typeof json !== "object" || json === null || Array.isArray(json)) {
        return Effect.fail(invalid(INDEX_FILE, `${file} is not a JSON object`))
      }
      const index = new Map<string, Record<PromptKey, string>>()
      for (const [name, entry] of Object.entries(json)) {
        if (typeof entry !== "object" || entry === null) continue // e.g. "repo_or_path"
        const paths = entry as Record<string, unknown>
        if (KEYS.every((k) => typeof paths[k] === "string")) index.set(name, paths as Record<PromptKey, string>)
      }
      return Effect.succeed(index)
    })
  )

const readIndex = Effect.fnUntraced(function*(modelDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const file = path.join(modelDir, INDEX_FILE)
  if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) return new Map() as VoiceIndex
  const text = yield* fs.readFileString(file).pipe(
    Effect.mapError((e) => invalid(INDEX_FILE, `cannot read ${file}: ${e.message}`))
  )
  return yield* parseIndex(text, file)
})

/** A listed voice's prompt files, resolved inside the model directory; undefined for a path that leaves it. */
const entryFiles = (path: Path.Path, modelDir: string, entry: Readonly<Record<PromptKey, string>>) => {
  const root = path.resolve(modelDir)
  return KEYS.map((key) => {
    const file = path.resolve(root, entry[key])
    const inside = !path.relative(root, file).startsWith("..") && !path.isAbsolute(entry[key])
    return { key, file, inside }
  })
}

/** Whether the prompt files of a listed voice exist: all, some or none (e.g. a voice the hub did not fetch). */
const presence = Effect.fnUntraced(function*(modelDir: string, entry: Readonly<Record<PromptKey, string>>) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const found = yield* Effect.forEach(
    entryFiles(path, modelDir, entry),
    ({ file, inside }) => inside ? fs.exists(file).pipe(Effect.orElseSucceed(() => false)) : Effect.succeed(true)
  )
  return found.every(Boolean) ? "all" : found.some(Boolean) ? "some" : "none"
})

/** Every voice named in the model directory's index, sorted, whether or not its files are there. */
export const indexedVoices = Effect.fn("bark.indexedVoices")(function*(modelDir: string) {
  return [...(yield* readIndex(modelDir)).keys()].sort()
})

/**
 * Names of the voices a model directory offers, sorted: the entries of
 * `speaker_embeddings_path.json` whose prompt files are there (a hub snapshot
 * holds only the voices that were fetched, while its index lists all of the
 * repository's); none without the file.
 */

export const listVoices = Effect.fn("bark.listVoices")(function*(modelDir: string) {
  const index = yield* readIndex(modelDir)
  const names: Array<string> = []
  for (const [name, entry] of index) {
    if ((yield* presence(modelDir, entry)) === "all") names.push(name)
  }
  return names.sort()
})

/**
 * Loads a voice: a path ending in `.npz` (suno format), or a name listed in the
 * model directory's `speaker_embeddings_path.json` whose files are there.
 * Unknown names, and listed voices without their files, fail with the list
 * of available voices.
 */
export const loadVoice = Effect.fn("bark.loadVoice")(function*(modelDir: string, voice: string) {
  if (voice.endsWith(".npz")) return yield* voiceFromNpz(voice, yield* readSmallFile(voice, voice))
  const path = yield* Path.Path
  const index = yield* readIndex(modelDir)
  const entry = index.get(voice)
  if (entry === undefined || (yield* presence(modelDir, entry)) === "none") {
    const available = yield* listVoices(modelDir)
    const unknown = entry === undefined
      ? `unknown voice "${voice}"`
      : `voice "${voice}" is listed in ${INDEX_FILE} but its prompt files are not in the model directory`
    return yield* new VoiceNotFound({
      voice,
      available,
      message: available.length === 0
        ? `${unknown}: the model directory lists no voices`
        : `${unknown}; available: ${available.join(", ")}`,
      remediation: entry === undefined
        ? "Use one of the available voice names, or a path to a suno .npz voice file."
        : `Use one of the available voice names, fetch this one with the model (BARK_VOICES=${voice}), or give a path to a suno .npz voice file.`
    })
  }
  const arrays = new Map<string, Tensor>()
  for (const { key, file, inside } of entryFiles(path, modelDir, entry)) {
    if (!inside) {
      return yield* invalid(voice, `${INDEX_FILE} points ${key} outside the model directory (${entry[key]})`)
    }
    const bytes = yield* readSmallFile(voice, file)
    arrays.set(key, yield* decodeNpy(bytes, file).pipe(Effect.mapError((e) => invalid(voice, e.message, e.remediation))))
  }
  return yield* voiceFromArrays(voice, arrays)
})
