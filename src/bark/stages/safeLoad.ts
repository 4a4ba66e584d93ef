/**
 * Stage `safe-load`: the model config and validated weights. Safetensors
 * headers are checked before anything is trusted; `pytorch_model.bin` goes
 * through the restricted unpickler, which constructs only allowlisted globals
 * (a recipe extends the list with `make({ allow })`). Nothing in a checkpoint
 * is executed.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as path from "node:path"
import * as Stage from "../../pipeline/Stage.ts"
import { StageFatal } from "../../pipeline/StageFatal.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import { loadCheckpoint } from "../../checkpoint/load.ts"
import type { SafeGlobal } from "../../checkpoint/pickle.ts"
import { summarize } from "../../checkpoint/summary.ts"
import type { Weights } from "../../checkpoint/Tensor.ts"
import { loadBarkConfig } from "../config.ts"
import { LoadedWeights, ModelFiles } from "../services.ts"

/** The sub-model prefixes of a Hugging Face BarkModel state dict. */
const prefixes = ["semantic.", "coarse_acoustics.", "fine_acoustics.", "codec_model."] as const

const checkLayout = (tensors: Weights, file: string) => {
  const missing = prefixes.filter((p) => ![...tensors.keys()].some((k) => k.startsWith(p)))
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
    purpose: "read the config and the weights without executing anything in them",
    provides: LoadedWeights,
    needs: [ModelFiles],
    build: Effect.gen(function*() {
      const files = yield* ModelFiles
      const weightsPath = path.join(files.dir, files.weightsFile)
      const config = yield* loadBarkConfig(path.join(files.dir, "config.json"))
      const checkpoint = yield* loadCheckpoint(weightsPath, options.allow === undefined ? {} : { allow: options.allow })
      yield* checkLayout(checkpoint.tensors, weightsPath)
      const sha256 = files.weightsSha256 ?? createHash("sha256").update(checkpoint.bytes).digest("hex")
      const summary = summarize(checkpoint.tensors)
      yield* StageReporter.annotate({
        file: files.weightsFile,
        format: checkpoint.format,
        sha256,
        tensors: summary.tensorCount,
        parameters: summary.parameters,
        bytes: summary.bytes,
        dtypes: summary.dtypes,
        ...(options.allow === undefined ? {} : { extraAllowedGlobals: options.allow.map((g) => `${g.module}.${g.name}`) })
      })
      return LoadedWeights.of({ config, tensors: checkpoint.tensors, format: checkpoint.format, sha256 })
    })
  })

export const stage = make()
