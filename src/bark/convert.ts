/**
 * Converting a checkpoint into the graph cache, once.
 *
 * `convertCheckpoint` goes sub-model by sub-model: only that sub-model's
 * tensors are read from the checkpoint, its graph is built and written
 * (weights as external data), and nothing of it is kept. Memory holds one
 * sub-model's weights at a time, never the whole checkpoint; this is the only
 * time weights pass through JavaScript.
 *
 * `convertOnce` is the cache-aware entry point (the safe-load stage and
 * `openModelDir` use it): it finds the entry of a checkpoint by content hash
 * and converts only on a miss, or when the entry does not check out.
 *
 * @since 0.2.0
 */
import { Effect, Path } from "effect"
import type { SafeGlobal } from "../checkpoint/pickle.ts"
import { type CheckpointReader, openCheckpoint } from "../checkpoint/reader.ts"
import { summarize, type WeightsSummary } from "../checkpoint/summary.ts"
import { checkpointSha256 } from "./checkpointIdentity.ts"
import type { BarkConfig } from "./config.ts"
import type { Dtype } from "./dtype.ts"
import { formatOf } from "./gpt/weightFormat.ts"
import * as GraphCache from "./graphCache.ts"
import { subModelGraph, tensorPrefix } from "./graphs.ts"
import { SUB_MODELS, type SubModel } from "./models.ts"
import { ConvertedModel } from "./services.ts"

export interface ConvertOptions {
  /** The weight type to convert to; default fp32. */
  readonly dtype?: Dtype
  /** Called after each sub-model is written, with milliseconds spent on it. */
  readonly onConverted?: (model: SubModel, done: number, ms: number) => Effect.Effect<void>
}

/** Converts the checkpoint behind `reader` into `staging` (commit it after). */
export const convertCheckpoint = Effect.fn("convertCheckpoint")(function*(
  reader: CheckpointReader,
  config: BarkConfig,
  staging: GraphCache.Staging,
  options: ConvertOptions = {}
) {
  for (const [i, model] of SUB_MODELS.entries()) {
    const t0 = performance.now()
    const prefix = tensorPrefix[model]
    const tensors = yield* reader.read([...reader.tensors.keys()].filter((name) => name.startsWith(prefix)))
    yield* staging.write(model, yield* subModelGraph(model, tensors, config, formatOf(options.dtype ?? "fp32")))
    yield* options.onConverted?.(model, i + 1, Math.round(performance.now() - t0)) ?? Effect.void
  }
})

export interface ConvertOnceOptions extends ConvertOptions {
  /** The checkpoint file. */
  readonly weightsPath: string
  readonly config: BarkConfig
  /** This project's own cache folder (`CacheDirs.own`): graphs under `graphs/`, remembered hashes under `checkpoints/`. */
  readonly ownDir: string
  /** The checkpoint's sha256 when known without hashing (the hub's LFS id). */
  readonly knownSha256?: string | undefined
  /** Re-hash every byte of a cached entry before trusting it. */
  readonly verify?: boolean
  /** Further pickle globals to allow in torch checkpoints. */
  readonly allow?: ReadonlyArray<SafeGlobal> | undefined
  /** Called once the checkpoint is open (a miss), with what it holds; may reject it. */
  readonly onOpened?: (reader: CheckpointReader, summary: WeightsSummary) => Effect.Effect<void, { readonly _tag: string; readonly message: string }>
}

export interface Converted {
  readonly entry: GraphCache.Entry
  readonly dtype: Dtype
  readonly sha256: string
  /** Whether the checkpoint was hashed now (a local file seen for the first time, or changed). */
  readonly hashed: boolean
  /** "hit": found in the cache, the checkpoint not read; "miss": converted now; "invalid": the entry was damaged and converted again. */
  readonly cache: "hit" | "miss" | "invalid"
  /** Why the cached entry was not trusted (cache "invalid"). */
  readonly invalidReason?: string
}

/** The `ConvertedModel` service value of a conversion's result. */
export const convertedModel = (config: BarkConfig, converted: Converted) =>
  ConvertedModel.of({
    config,
    graphs: converted.entry.graphs,
    key: converted.entry.key,
    dtype: converted.dtype,
    sha256: converted.sha256,
    cached: converted.cache === "hit"
  })

/** The graph-cache entry of a checkpoint, converting it first when needed. */
export const convertOnce = Effect.fn("convertOnce")(function*(options: ConvertOnceOptions) {
  const path = yield* Path.Path
  const identity = yield* checkpointSha256(options.weightsPath, path.join(options.ownDir, "checkpoints"), options.knownSha256)
  const dtype = options.dtype ?? "fp32"
  const inputs = { checkpointSha256: identity.sha256, config: options.config, dtype, builderVersion: GraphCache.GRAPH_BUILDER_VERSION } as const
  const key = GraphCache.graphKey(inputs)
  const cache = yield* GraphCache.make(path.join(options.ownDir, "graphs"))
  const found = yield* cache.lookup(key, { verify: options.verify === true })
  const base = { sha256: identity.sha256, hashed: identity.hashed, dtype }
  if (found._tag === "Hit") return { ...base, entry: found.entry, cache: "hit" } satisfies Converted
  const entry = yield* Effect.scoped(Effect.gen(function*() {
    const reader = yield* openCheckpoint(options.weightsPath, options.allow === undefined ? {} : { allow: options.allow })
    yield* options.onOpened?.(reader, summarize(reader.tensors)) ?? Effect.void
    const staging = yield* cache.stage(key, inputs)
    yield* convertCheckpoint(reader, options.config, staging, { dtype, ...(options.onConverted === undefined ? {} : { onConverted: options.onConverted }) })
    return yield* staging.commit(options.config)
  }))
  return found._tag === "Invalid"
    ? { ...base, entry, cache: "invalid", invalidReason: found.reason } satisfies Converted
    : { ...base, entry, cache: "miss" } satisfies Converted
})
