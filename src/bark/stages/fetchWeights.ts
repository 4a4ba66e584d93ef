/**
 * Stage `fetch-weights`: the model repository's files on local disk at a
 * pinned revision. A repo id is resolved to a commit and its Bark files are
 * downloaded (or found) in the Hugging Face cache; a local directory given as
 * BARK_MODEL skips the hub entirely.
 *
 * @since 0.1.0
 */
import { NodeHttpClient, NodeServices } from "@effect/platform-node"
import { Config, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Stage from "../../pipeline/Stage.ts"
import { fromError, StageFatal } from "../../pipeline/StageFatal.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { barkFiles, VOICE_INDEX, voicesIn } from "../../hub/barkFiles.ts"
import { HubConfig } from "../../hub/HubConfig.ts"
import { HubError } from "../../hub/HubError.ts"
import { snapshotDownload } from "../../hub/SnapshotDownload.ts"
import { ModelFiles } from "../services.ts"
import * as Settings from "../settings.ts"
import { listVoices } from "../voices.ts"
import { CacheDirs } from "./cacheDirs.ts"

/** The voice fetched when BARK_VOICES is unset, if the repository has it. */
export const DEFAULT_VOICE = "v2/en_speaker_6"

/** What BARK_VOICES asks for. */
export interface VoiceRequest {
  /** Voice presets, or `all`. */
  readonly names: ReadonlyArray<string>
  /** True when BARK_VOICES is set: a named voice the repository lacks is then fatal, not a warning. */
  readonly explicit: boolean
}

/**
 * BARK_VOICES: comma-separated voice presets whose prompts are fetched, or
 * `all` for every preset the repository has. Unset:
 * `v2/en_speaker_6` when the repository has it, else a warning (a repository
 * without voices is a valid model).
 */
export const voices: Config.Config<VoiceRequest> = Config.option(Config.String("BARK_VOICES")).pipe(
  Config.map(Option.match({
    onNone: (): VoiceRequest => ({ names: [DEFAULT_VOICE], explicit: false }),
    onSome: (raw): VoiceRequest => ({
      names: raw.split(",").map((v) => v.trim()).filter((v) => v.length > 0),
      explicit: true
    })
  }))
)

/** Which voices of a request a listing has, and which it lacks. */
export const planVoices = (request: VoiceRequest, listing: ReadonlyArray<string>) => {
  const available = voicesIn(listing)
  if (request.names.includes("all")) return { available, fetch: available, missing: [] as ReadonlyArray<string> }
  const missing = request.names.filter((v) => !available.includes(v))
  // Explicit voices are fetched even when unlisted, so the hub names them before any transfer.
  const fetch = request.explicit ? request.names : request.names.filter((v) => available.includes(v))
  return { available, fetch, missing }
}

const listOf = (names: ReadonlyArray<string>) => names.map((v) => `"${v}"`).join(", ")

const NO_PROMPTS = "has no voice prompts (no speaker_embeddings/)"

const hasVoices = (where: string, available: ReadonlyArray<string>, none = NO_PROMPTS) =>
  available.length === 0
    ? `${where} ${none}`
    : `${where} has ${available.length === 1 ? "the voice" : "the voices"} ${available.join(", ")}`

/** A voice named in BARK_VOICES that the model lacks: fatal, with the voices it has. */
const voicesMissing = (
  where: string,
  missing: ReadonlyArray<string>,
  available: ReadonlyArray<string>,
  none = NO_PROMPTS
) =>
  new StageFatal({
    message: `BARK_VOICES names ${listOf(missing)}, which ${where} lacks; ${hasVoices("it", available, none)}`,
    remediation: available.length === 0
      ? "unset BARK_VOICES (synthesis without a voice prompt works), or pass the path of a suno .npz voice per request"
      : `set BARK_VOICES to voices the model has (e.g. ${available[0]}, or all), or unset it`,
    errorTag: "VoiceNotFound"
  })

/** The default voice the repository lacks: a warning; the model still loads. */
const defaultVoiceMissing = (where: string, missing: ReadonlyArray<string>, available: ReadonlyArray<string>) =>
  StageReporter.warn(
    `${where} lacks the default voice ${listOf(missing)}, so no voice prompt was fetched; ${
      hasVoices("it", available)
    }. Synthesis without a voice prompt still works (Bark picks a random speaker).`,
    available.length === 0
      ? "to use a voice, pass the path of a suno .npz voice per request, or use a model that has speaker_embeddings/ (e.g. suno/bark-small)"
      : `to use a voice, set BARK_VOICES to voices the repository has (e.g. ${available[0]}, or all), or pass the path of a suno .npz voice per request`
  )

const weightFiles = ["model.safetensors", "pytorch_model.bin"] as const

/** Whether a listing has every file of the model besides the voices. */
const requiredListed = (listing: ReadonlyArray<string>) =>
  barkFiles(listing.map((rfilename) => ({ rfilename })), []).every((f) => f === VOICE_INDEX || listing.includes(f))

/** The files of a local model directory, or a fatal error naming what is missing. */
export const localModelFiles = (dir: string) =>
  Effect.gen(function*() {
    const present = (f: string) => fs.existsSync(path.join(dir, f))
    const weightsFile = weightFiles.find(present)
    const missing = [...(present("config.json") ? [] : ["config.json"]), ...(weightsFile ? [] : ["model.safetensors (or pytorch_model.bin)"])]
    if (missing.length > 0 || weightsFile === undefined) {
      return yield* new StageFatal({
        message: `the model directory ${dir} lacks ${missing.join(" and ")}`,
        remediation: "point BARK_MODEL at a directory holding a Hugging Face BarkModel (config.json + weights), or at a repo id such as suno/bark-small",
        errorTag: "ModelDirIncomplete"
      })
    }
    const files = fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((f) => f !== weightsFile && fs.statSync(path.join(dir, f)).isFile())
      .sort()
    yield* StageReporter.annotate({ source: "local", dir, files: files.length + 1, weightsFile })
    return ModelFiles.of({
      source: "local",
      model: dir,
      revision: undefined,
      commit: undefined,
      dir,
      files: [weightsFile, ...files],
      weightsFile,
      weightsSha256: undefined
    })
  })

const isLocalDirectory = (model: string) => fs.existsSync(model) && fs.statSync(model).isDirectory()

const mb = (bytes: number) => Math.round((bytes / 1024 ** 2) * 10) / 10

/** Fails when BARK_VOICES names voices the local model directory lacks. */
const checkLocalVoices = (dir: string) =>
  Effect.gen(function*() {
    const request = yield* voices
    if (!request.explicit || request.names.includes("all")) return
    const available = yield* listVoices(dir).pipe(
      Effect.mapError((e) => fromError(e)),
      Effect.provide(NodeServices.layer)
    )
    const missing = request.names.filter((v) => !available.includes(v))
    if (missing.length > 0) {
      return yield* voicesMissing(`the model directory ${dir}`, missing, available, `lists no voices (${VOICE_INDEX})`)
    }
  })

export const stage = Stage.make({
  name: "fetch-weights",
  purpose: "download (or find in the HF cache) the model's files at a pinned revision",
  provides: ModelFiles,
  needs: [CacheDirs],
  skip: {
    when: Effect.map(Settings.model, (model) =>
      isLocalDirectory(model) ? `BARK_MODEL is a local directory (${path.resolve(model)})` : undefined),
    value: Effect.flatMap(Settings.model, (model) =>
      Effect.tap(localModelFiles(path.resolve(model)), () => checkLocalVoices(path.resolve(model))))
  },
  build: Effect.gen(function*() {
    const dirs = yield* CacheDirs
    const repo = yield* Settings.model
    const revision = yield* Settings.revision
    const force = yield* Settings.forceDownload
    const request = yield* voices
    const offline = yield* HubConfig.pipe(Effect.map((s) => s.offline), Effect.orElseSucceed(() => false))
    const reporter = yield* StageReporter.StageReporter
    // The revision's listing (offline: the cached snapshot's), as the hub client last showed it to `select`.
    let listing: ReadonlyArray<string> = []
    const snapshot = yield* snapshotDownload({
      repo,
      revision,
      hubCache: dirs.hub,
      force,
      // As transformers' loaders leave it after probing: the safetensors a repository lacks is marked absent.
      recordAbsent: ["model.safetensors"],
      select: (siblings) => {
        listing = siblings.map((s) => s.rfilename)
        const files = barkFiles(siblings, planVoices(request, listing).fetch)
        // A repository without voices may lack the index too.
        return files.filter((f) => f !== VOICE_INDEX || listing.includes(VOICE_INDEX))
      },
      onProgress: (e) =>
        reporter.progress({
          unit: "bytes",
          done: e.bytes,
          label: e.file,
          ratePerSecond: e.bytesPerSecond,
          ...(e.total === undefined ? {} : { total: e.total }),
          ...(e.etaSeconds === undefined ? {} : { etaSeconds: e.etaSeconds })
        })
    }).pipe(
      Effect.provide(NodeHttpClient.layerUndici),
      Effect.catchTag("HubError", (e): Effect.Effect<never, HubError | StageFatal> => {
        // Offline with no snapshot, nothing says which weights the repository has: name what a Bark repository holds.
        if (e.reason === "offline-missing" && listing.length === 0) {
          const voiceNote = request.names.length === 0 ? "" : `, and for the voice${request.names.length === 1 ? "" : "s"} ${request.names.join(", ")} their prompts under speaker_embeddings/`
          return Effect.fail(
            new HubError({
              ...e,
              message: `HF_HUB_OFFLINE is set and the cache has no snapshot of ${repo} at revision ${revision}. ` +
                `A Bark repository needs config.json, generation_config.json, vocab.txt and its weights, model.safetensors ` +
                `(or pytorch_model.bin when it has no safetensors), with speaker_embeddings_path.json${voiceNote}.`
            })
          )
        }
        // Only the named voices are missing: say which voices the repository has instead of which files it lacks.
        const { available, missing } = planVoices(request, listing)
        return e.reason === "not-found" && request.explicit && missing.length > 0 && requiredListed(listing)
          ? Effect.fail(voicesMissing(`${repo} at revision ${revision}`, missing, available))
          : Effect.fail(e)
      })
    )
    const { available, missing } = planVoices(request, listing)
    if (!request.explicit && missing.length > 0) {
      const where = offline ? `the cached snapshot of ${repo} at revision ${revision}` : `${repo} at revision ${revision}`
      yield* defaultVoiceMissing(where, missing, available)
    }
    const weights = snapshot.files.find((f) => (weightFiles as ReadonlyArray<string>).includes(f.path))!
    const bytes = snapshot.files.reduce((n, f) => n + f.bytes, 0)
    yield* StageReporter.annotate({
      source: "hub",
      repo,
      revision,
      commit: snapshot.commit,
      voices: voicesIn(snapshot.files.map((f) => f.path)),
      ...(missing.length > 0 ? { missingVoices: missing } : {}),
      files: snapshot.files.map((f) => f.path),
      bytes,
      cacheHits: snapshot.files.filter((f) => f.cached).length,
      downloadedMb: mb(snapshot.bytesDownloaded),
      seconds: Math.round(snapshot.seconds * 100) / 100,
      throughputMbPerS: snapshot.seconds > 0 ? mb(snapshot.bytesDownloaded / snapshot.seconds) : 0,
      forced: force
    })
    return ModelFiles.of({
      source: "hub",
      model: repo,
      revision,
      commit: snapshot.commit,
      dir: snapshot.dir,
      files: [weights.path, ...snapshot.files.map((f) => f.path).filter((p) => p !== weights.path)],
      weightsFile: weights.path,
      weightsSha256: weights.sha256
    })
  })
})
