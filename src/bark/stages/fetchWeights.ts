/**
 * Stage `fetch-weights`: the model repository's files on local disk at a
 * pinned revision. A repo id is resolved to a commit and its Bark files are
 * downloaded (or found) in the Hugging Face cache; a local directory given as
 * BARK_MODEL skips the hub entirely.
 *
 * @since 0.1.0
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Config, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Stage from "../../pipeline/Stage.ts"
import { StageFatal } from "../../pipeline/StageFatal.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { barkFiles } from "../../hub/barkFiles.ts"
import { snapshotDownload } from "../../hub/SnapshotDownload.ts"
import { ModelFiles } from "../services.ts"
import * as Settings from "../settings.ts"
import { CacheDirs } from "./cacheDirs.ts"

/**
 * BARK_VOICES: comma-separated voice presets whose prompts are fetched, or
 * `all` for every preset the repository has. Default `v2/en_speaker_6`.
 */
export const voices = Config.String("BARK_VOICES").pipe(
  Config.withDefault("v2/en_speaker_6"),
  Config.map((raw) => raw.split(",").map((v) => v.trim()).filter((v) => v.length > 0))
)

const semanticPrompt = /^speaker_embeddings\/(.+)_semantic_prompt\.npy$/

/** The voice presets among a repo's files: each one's semantic prompt names it. */
const presetsIn = (files: ReadonlyArray<string>) => files.flatMap((f) => semanticPrompt.exec(f)?.slice(1, 2) ?? [])

const weightFiles = ["model.safetensors", "pytorch_model.bin"] as const

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

export const stage = Stage.make({
  name: "fetch-weights",
  purpose: "download (or find in the HF cache) the model's files at a pinned revision",
  provides: ModelFiles,
  needs: [CacheDirs],
  skip: {
    when: Effect.map(Settings.model, (model) =>
      isLocalDirectory(model) ? `BARK_MODEL is a local directory (${path.resolve(model)})` : undefined),
    value: Effect.flatMap(Settings.model, (model) => localModelFiles(path.resolve(model)))
  },
  build: Effect.gen(function*() {
    const dirs = yield* CacheDirs
    const repo = yield* Settings.model
    const revision = yield* Settings.revision
    const force = yield* Settings.forceDownload
    const wanted = yield* voices
    const reporter = yield* StageReporter.StageReporter
    const snapshot = yield* snapshotDownload({
      repo,
      revision,
      cacheRoot: dirs.root,
      force,
      select: (siblings) =>
        barkFiles(siblings, wanted.includes("all") ? presetsIn(siblings.map((s) => s.rfilename)) : wanted),
      onProgress: (e) =>
        reporter.progress({
          unit: "bytes",
          done: e.bytes,
          label: e.file,
          ratePerSecond: e.bytesPerSecond,
          ...(e.total === undefined ? {} : { total: e.total }),
          ...(e.etaSeconds === undefined ? {} : { etaSeconds: e.etaSeconds })
        })
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
    const weights = snapshot.files.find((f) => (weightFiles as ReadonlyArray<string>).includes(f.path))!
    const bytes = snapshot.files.reduce((n, f) => n + f.bytes, 0)
    yield* StageReporter.annotate({
      source: "hub",
      repo,
      revision,
      commit: snapshot.commit,
      voices: presetsIn(snapshot.files.map((f) => f.path)),
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
