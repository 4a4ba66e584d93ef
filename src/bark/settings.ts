/**
 * Every knob of the Bark recipes as an Effect Config with its documented
 * default. Configs are descriptions: they are read when a stage runs (so
 * `--set` and test providers apply), never at import.
 *
 * The established names of the Python service keep working, including its
 * Python-style booleans ("True"/"False").
 *
 * @since 0.1.0
 */
import { Config, ConfigProvider, Effect, Option } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import { DTYPES, type Dtype } from "./dtype.ts"

const truthy = new Set(["1", "true", "yes", "on", "y"])
const falsy = new Set(["0", "false", "no", "off", "n", ""])

/** A boolean flag accepting any case of true/false, yes/no, on/off, 1/0. */
export const flag = (name: string) =>
  Config.String(name).pipe(Config.mapEffect((raw) => {
    const v = raw.trim().toLowerCase()
    if (truthy.has(v)) return Effect.succeed(true)
    if (falsy.has(v)) return Effect.succeed(false)
    return Effect.fail(
      new Config.ConfigError(
        new ConfigProvider.SourceError({ message: `${name}=${raw} is not a boolean: use true/false (or 1/0, yes/no, on/off)` })
      )
    )
  }))

/** The default model repo; `SUNO_USE_SMALL_MODELS=False` selects the large one. */
export const defaultSmallModel = "suno/bark-small"
export const defaultLargeModel = "suno/bark"

/** BARK_MODEL: a repo id or a local directory. Default `suno/bark-small` (`suno/bark` with SUNO_USE_SMALL_MODELS=False). */
export const model = Effect.gen(function*() {
  const explicit = yield* Config.option(Config.String("BARK_MODEL"))
  if (Option.isSome(explicit) && explicit.value.trim() !== "") return explicit.value.trim()
  const small = yield* flag("SUNO_USE_SMALL_MODELS").pipe(Config.withDefault(true))
  return small ? defaultSmallModel : defaultLargeModel
})

/** BARK_REVISION: branch, tag, commit or refs/pr/N. Default `main`. */
export const revision = Config.String("BARK_REVISION").pipe(Config.withDefault("main"))

/** BARK_FORCE_DOWNLOAD: re-fetch even when cached. Default false. */
export const forceDownload = flag("BARK_FORCE_DOWNLOAD").pipe(Config.withDefault(false))

/** BARK_DEVICE: auto | cpu | cuda. Default auto. */
export const device = Config.Literals(["auto", "cpu", "cuda"], "BARK_DEVICE").pipe(Config.withDefault("auto" as const))

/** BARK_DEVICE_STRICT: with BARK_DEVICE=cuda, fail instead of falling back to CPU. Default false. */
export const deviceStrict = flag("BARK_DEVICE_STRICT").pipe(Config.withDefault(false))

/** SUNO_OFFLOAD_CPU: create sessions lazily per sub-model and release them after use. Default false. */
export const offloadCpu = flag("SUNO_OFFLOAD_CPU").pipe(Config.withDefault(false))

/** BARK_VERIFY_CACHE: re-hash every byte of a graph-cache entry before using it (default: sizes and mtimes only). */
export const verifyCache = flag("BARK_VERIFY_CACHE").pipe(Config.withDefault(false))

/** BARK_DTYPE: the weight type the model is converted to and run in: fp32 (default), fp16, int8 or q4 (./dtype.ts). */
export const dtype = Config.Literals(DTYPES, "BARK_DTYPE").pipe(Config.withDefault("fp32" as Dtype))

/**
 * BARK_ORT_PREPACK: let onnxruntime prepack weights into private copies.
 * Default: off for fp32 (sessions use the memory-mapped weights in the graph
 * cache, shared between sessions and processes; see docs/models.md, "Memory") unless
 * the engine batches (a batched step is a matrix product, which packs
 * unprepacked weights on every run), on for the other dtypes: int8 and q4's
 * MatMulNBits kernels run ~20× slower unprepacked, and their prepacked copies
 * are small.
 */
export const prepack = (dtype: Dtype, batching = false) =>
  Effect.map(Config.option(flag("BARK_ORT_PREPACK")), (explicit) => Option.getOrElse(explicit, () => dtype !== "fp32" || batching))

/**
 * BARK_ORT_CPU_ARENA: onnxruntime's CPU memory arena. Default off without
 * batching (it keeps the largest activations of every run allocated; without
 * it the peak RSS at bark-small size is about 180 MB lower at the same
 * ms/token; docs/models.md, "Memory"), on with BARK_MAX_BATCH above 1, where every
 * step allocates the batch's attention buffers again and the arena saves
 * their page faults (docs/performance.md, "Batched generation").
 */
export const cpuArena = (batching = false) =>
  Effect.map(Config.option(flag("BARK_ORT_CPU_ARENA")), (explicit) => Option.getOrElse(explicit, () => batching))

/**
 * The memory options every session of a model of `dtype` is opened with
 * (prepacking, arena), from the settings above and whether the engine
 * batches (`batching`; default: BARK_MAX_BATCH above 1).
 */
export const memoryOptions = (dtype: Dtype, batching?: boolean) =>
  Effect.gen(function*() {
    const batched = batching ?? (yield* maxBatch) > 1
    return { prepack: yield* prepack(dtype, batched), cpuMemArena: yield* cpuArena(batched) }
  })

/** A non-empty value of the first of `names` that is set, resolved to an absolute path, and its name. */
const firstDir = (names: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    for (const name of names) {
      const value = yield* Config.option(Config.String(name))
      if (Option.isSome(value) && value.value !== "") return Option.some({ dir: path.resolve(value.value), source: name })
    }
    return Option.none<{ readonly dir: string; readonly source: string }>()
  })

/**
 * The cache root: BARK_CACHE_DIR, else HF_HOME, else $XDG_CACHE_HOME/huggingface,
 * else ~/.cache/huggingface — where huggingface_hub keeps its `hub/` folder, so
 * a cache made by Python tools is reused.
 */
export const cacheRoot = Effect.gen(function*() {
  const explicit = yield* firstDir(["BARK_CACHE_DIR", "HF_HOME"])
  if (Option.isSome(explicit)) return explicit.value
  const xdg = yield* firstDir(["XDG_CACHE_HOME"])
  if (Option.isSome(xdg)) return { dir: path.join(xdg.value.dir, "huggingface"), source: xdg.value.source }
  return { dir: path.join(os.homedir(), ".cache", "huggingface"), source: "home" }
})

/**
 * Where model repositories are cached, in huggingface_hub's layout, so that
 * Hugging Face's own clients and this project share it both ways:
 * HF_HUB_CACHE, else the legacy HUGGINGFACE_HUB_CACHE (huggingface_hub reads
 * them first too), else `{cache root}/hub` (BARK_CACHE_DIR, HF_HOME, …).
 */
export const hubCache = Effect.gen(function*() {
  const explicit = yield* firstDir(["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"])
  if (Option.isSome(explicit)) return explicit.value
  const root = yield* cacheRoot
  return { dir: path.join(root.dir, "hub"), source: root.source }
})

/**
 * This project's own cache (converted graphs, the demo and bench models,
 * remembered checkpoint hashes): BARK_OWN_CACHE_DIR, else
 * `{cache root}/bark-pipeline`. Independent of where model files live.
 */
export const ownCache = Effect.gen(function*() {
  const explicit = yield* firstDir(["BARK_OWN_CACHE_DIR"])
  if (Option.isSome(explicit)) return explicit.value
  const root = yield* cacheRoot
  return { dir: path.join(root.dir, "bark-pipeline"), source: root.source }
})

/**
 * A Bark model's memory needs in fp32: the weights (bark-reference.md §2–3)
 * and the process's peak RSS from start to the end of a synthesis. For
 * bark-small-sized weights the peak was measured (`node bench/startup.ts`,
 * docs/models.md, "Measured startup": the cold start, which converts the checkpoint,
 * peaks highest); bark's is bark-small's scaled by the weights.
 */
export const modelMemory = (model: string): { readonly weightsGb: number; readonly peakGb: number; readonly measured: boolean } => {
  const small = { weightsGb: 1.68, peakGb: 2.1, measured: true }
  if (!(/(^|\/)bark$/.test(model) || /bark-large/.test(model))) return small
  const weightsGb = 4.49
  return { weightsGb, peakGb: Math.round((small.peakGb * weightsGb / small.weightsGb) * 10) / 10, measured: false }
}

/**
 * BARK_ENABLE_COMPILE: optimise the graphs at onnxruntime's highest level,
 * cache the optimised copies and warm the models up. Default true. The
 * deprecated BARK_ENABLE_TORCH_COMPILE is read when BARK_ENABLE_COMPILE is
 * unset; `source` says which one decided, so the stage can warn about it.
 */
export const enableCompile = Effect.gen(function*() {
  const current = yield* Config.option(flag("BARK_ENABLE_COMPILE"))
  if (Option.isSome(current)) return { enabled: current.value, source: "BARK_ENABLE_COMPILE" as const }
  const legacy = yield* Config.option(flag("BARK_ENABLE_TORCH_COMPILE"))
  if (Option.isSome(legacy)) return { enabled: legacy.value, source: "BARK_ENABLE_TORCH_COMPILE" as const }
  return { enabled: true, source: "default" as const }
})

/**
 * BARK_MAX_BATCH: sequences the engine decodes together in one step
 * (continuous batching; default 1, each alone). Each sequence in a batch
 * holds its own KV cache (about 75 MB per model at bark-small in fp32, half
 * with the reduced dtypes' float16 cache).
 */
export const maxBatch = Config.Int("BARK_MAX_BATCH").pipe(
  Config.withDefault(1),
  Config.mapEffect((n) =>
    n >= 1 && n <= 64
      ? Effect.succeed(n)
      : Effect.fail(new Config.ConfigError(new ConfigProvider.SourceError({ message: `BARK_MAX_BATCH=${n} must be 1..64` })))
  )
)

/** BARK_ENGINE: `in-process` (default) or `worker` (generation on a worker thread, which opens its own sessions). */
export const engineKind = Config.Literals(["in-process", "worker"], "BARK_ENGINE").pipe(
  Config.withDefault("in-process" as const)
)

/** BARK_SYNTHESIS: the synthesis recipe requests run unless they name another (`synthesis`, `draft`, or a module path). */
export const synthesis = Config.String("BARK_SYNTHESIS").pipe(Config.withDefault("synthesis"))

/**
 * The audio cache: BARK_AUDIO_CACHE=on keeps finished syntheses of seeded
 * requests (default off), up to BARK_AUDIO_CACHE_MB (default 1024) under
 * BARK_AUDIO_CACHE_DIR (default `<own cache>/audio-cache`, when the recipe
 * resolved the caches), least recently used evicted first. Undefined when off.
 */
export const audioCache = (ownCacheDir: Option.Option<string>) =>
  Effect.gen(function*() {
    if (!(yield* audioCacheOn)) return undefined
    const mb = yield* Config.Number("BARK_AUDIO_CACHE_MB").pipe(
      Config.withDefault(1024),
      Config.mapEffect((n) =>
        n > 0 && Number.isFinite(n)
          ? Effect.succeed(n)
          : Effect.fail(new Config.ConfigError(new ConfigProvider.SourceError({ message: `BARK_AUDIO_CACHE_MB=${n} must be a positive number of megabytes` })))
      )
    )
    const dir = Option.isSome(ownCacheDir)
      ? yield* Config.String("BARK_AUDIO_CACHE_DIR").pipe(Config.withDefault(path.join(ownCacheDir.value, "audio-cache")))
      : yield* Config.String("BARK_AUDIO_CACHE_DIR")
    return { dir, maxBytes: Math.floor(mb * 2 ** 20) }
  })

/** BARK_AUDIO_CACHE: on | off (default off). */
export const audioCacheOn = flag("BARK_AUDIO_CACHE").pipe(Config.withDefault(false))
