/**
 * Stage `safe-load`: the checkpoint validated and converted, once, into the
 * graph cache (./../convert.ts), or found there already converted.
 *
 * The graphs are made in the weight type BARK_DTYPE asks for (fp32, int8 or
 * q4; ../dtype.ts); each dtype has its own cache entry.
 *
 * On a cache miss the checkpoint is opened for reading tensor by tensor:
 * safetensors headers are checked before anything is trusted;
 * `pytorch_model.bin` goes through the restricted unpickler, which constructs
 * only allowlisted globals (a recipe extends the list with `make({ allow })`).
 * Nothing in a checkpoint is executed. Each sub-model's tensors are read,
 * turned into its graph and written, then dropped.
 *
 * On a hit the stage is `skipped` (cache hit) and the checkpoint is not read:
 * its identity is the hub's sha256, or for a local file a hash remembered by
 * size and mtime. The check is O(files) (sizes and mtimes against the
 * manifest); BARK_VERIFY_CACHE=1 re-hashes every byte. An entry that does not
 * check out is removed and converted again, with a warning.
 *
 * @since 0.1.0
 */
import { Effect, Path } from "effect"
import type { SafeGlobal } from "../../checkpoint/pickle.ts"
import * as Stage from "../../pipeline/Stage.ts"
import { StageFatal } from "../../pipeline/StageFatal.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { loadBarkConfig } from "../config.ts"
import { convertedModel, convertOnce } from "../convert.ts"
import { tensorPrefix } from "../graphs.ts"
import { SUB_MODELS } from "../models.ts"
import { ConvertedModel, ModelFiles } from "../services.ts"
import * as Settings from "../settings.ts"
import { CacheDirs } from "./cacheDirs.ts"

const checkLayout = (names: ReadonlyArray<string>, file: string) => {
  const missing = SUB_MODELS.map((m) => tensorPrefix[m]).filter((p) => !names.some((k) => k.startsWith(p)))
  return missing.length === 0
    ? Effect.void
    : Effect.fail(
      new StageFatal({
        message: `${file} is not a Hugging Face BarkModel checkpoint: no tensors under ${missing.join(", ")}`,
        remediation:
          "use the Hugging Face repos suno/bark-small or suno/bark (pytorch_model.bin or model.safetensors); suno's raw text.pt/coarse.pt/fine.pt need converting to the HF layout first",
        errorTag: "NotABarkCheckpoint"
      })
    )
}

export const make = (options: { readonly allow?: ReadonlyArray<SafeGlobal> } = {}) =>
  Stage.make({
    name: "safe-load",
    purpose: "validate the checkpoint without executing anything in it and convert it, once, into the graph cache",
    provides: ConvertedModel,
    needs: [ModelFiles, CacheDirs],
    build: Effect.gen(function*() {
      const files = yield* ModelFiles
      const dirs = yield* CacheDirs
      const path = yield* Path.Path
      const reporter = yield* StageReporter.StageReporter
      const weightsPath = path.join(files.dir, files.weightsFile)
      const config = yield* loadBarkConfig(path.join(files.dir, "config.json"))
      const verify = yield* Settings.verifyCache
      const dtype = yield* Settings.dtype
      const convertMs: Record<string, number> = {}
      const converted = yield* convertOnce({
        weightsPath,
        config,
        dtype,
        ownDir: dirs.own,
        knownSha256: files.weightsSha256,
        verify,
        allow: options.allow,
        onOpened: (reader, summary) =>
          Effect.andThen(
            reporter.annotate({
              format: reader.format,
              tensors: summary.tensorCount,
              parameters: summary.parameters,
              bytes: summary.bytes,
              dtypes: summary.dtypes,
              ...(options.allow === undefined ? {} : { extraAllowedGlobals: options.allow.map((g) => `${g.module}.${g.name}`) })
            }),
            checkLayout([...reader.tensors.keys()], weightsPath)
          ),
        onConverted: (model, done, ms) =>
          Effect.andThen(
            Effect.sync(() => void (convertMs[model] = ms)),
            reporter.progress({ unit: "sub-models", done, total: SUB_MODELS.length, label: model })
          )
      }).pipe(Effect.mapError((e) =>
        e._tag === "PlatformError"
          ? new StageFatal({
            message: `cannot read the checkpoint ${weightsPath}: ${e.message}`,
            remediation: "check that the file exists and is readable; fetch the model again if it was removed",
            errorTag: "CheckpointUnreadable"
          })
          : e
      ))
      yield* StageReporter.annotate({
        file: files.weightsFile,
        sha256: converted.sha256,
        hashed: converted.hashed,
        dtype,
        graphCache: converted.cache,
        graphCacheKey: converted.entry.key,
        graphBytes: converted.entry.bytes,
        verified: verify,
        ...(converted.cache === "hit" ? {} : { convertMs })
      })
      if (converted.cache === "invalid") {
        yield* StageReporter.warn(
          `the cached graphs of this checkpoint could not be trusted (${converted.invalidReason}); they were removed and converted again`,
          "nothing to do if it happens once; if it recurs, check the disk under BARK_CACHE_DIR (bark-pipeline cache verify)"
        )
      }
      if (converted.cache === "hit") yield* StageReporter.skipped("graph cache hit: the converted model is in the cache, the checkpoint was not read")
      return convertedModel(config, converted)
    })
  })

export const stage = make()
