/**
 * The synthesis service's knobs, as Effect Configs with documented defaults
 * (environment variables, or `--set K=V` / flags of `bark-pipeline serve`).
 * Read once when the server starts.
 *
 * @since 0.1.0
 */
import { Config, ConfigProvider, Effect, Option } from "effect"
import { voiceMap } from "./openaiVoices.ts"
import { DEFAULT_CGROUP_ROOT } from "../pipeline/memoryBudget.ts"

const invalid = (message: string) => new Config.ConfigError(new ConfigProvider.SourceError({ message }))

const atLeast = (name: string, min: number) => (value: number) =>
  value >= min ? Effect.succeed(value) : Effect.fail(invalid(`${name}=${value} must be at least ${min}`))

const share = (name: string) => (value: number) =>
  value > 0 && value <= 1 ? Effect.succeed(value) : Effect.fail(invalid(`${name}=${value} must be a share in (0, 1], e.g. 0.8`))

/** Strict: every startup stage succeeded or was skipped. Lenient: warned stages are allowed too (Triton's --strict-readiness). */
export type ReadinessPolicy = "strict" | "lenient"

export interface ServerSettings {
  /** BARK_HOST (default 127.0.0.1). */
  readonly host: string
  /** BARK_PORT (default 8000; 0 lets the OS pick). */
  readonly port: number
  /**
   * BARK_MAX_CONCURRENCY: generations at once (default BARK_MAX_BATCH, else 1:
   * one saturates the CPU, unless the engine batches them into shared steps).
   */
  readonly maxConcurrency: number
  /** BARK_MAX_QUEUE: requests waiting for a generation slot before 429 (default 16). */
  readonly maxQueue: number
  /** BARK_REQUEST_TIMEOUT_S: longest wait in the queue before 503 (default 60). */
  readonly requestTimeoutS: number
  /** BARK_MAX_TEXT_CHARS: longest text accepted (default 4000). */
  readonly maxTextChars: number
  /** BARK_MAX_BODY_BYTES: largest request body (default 65536). */
  readonly maxBodyBytes: number
  /**
   * BARK_MEMORY_LIMIT_MB: the memory budget RSS is measured against. Unset (the default): the
   * container's cgroup limit, else the host's memory (see memoryBudget.ts).
   */
  readonly memoryLimitMb: number | undefined
  /** BARK_CGROUP_ROOT: where the cgroup filesystem is mounted (default /sys/fs/cgroup). */
  readonly cgroupRoot: string
  /** BARK_MEMORY_WARN_SHARE: share of the budget above which /health reports degraded (default 0.8). */
  readonly memoryWarnShare: number
  /** BARK_MEMORY_SHED_SHARE: share above which synthesis requests get 503 (default: never shed). */
  readonly memoryShedShare: number | undefined
  /** BARK_MEMORY_SAMPLE_MS: RSS sampling interval (default 1000). */
  readonly memorySampleMs: number
  /** BARK_MEMORY_GROWTH_MB: RSS growth within the window that raises the memory_growth flag (default 100). */
  readonly memoryGrowthMb: number
  /** BARK_MEMORY_GROWTH_WINDOW_S: the sliding window growth is measured over (default 300). */
  readonly memoryGrowthWindowS: number
  /** BARK_MEMORY_WARMUP_S: growth is watched only this long after the service became ready (default 60). */
  readonly memoryWarmupS: number
  /** BARK_SLOW_LOAD_S: a startup (model load) longer than this raises the slow_model_load flag (default 60). */
  readonly slowLoadS: number
  /** BARK_QUEUE_WARN_LENGTH: more waiting requests than this raise the queue_long flag (default 10). */
  readonly queueWarnLength: number
  /** BARK_READINESS: strict | lenient (default lenient). */
  readonly readiness: ReadinessPolicy
  /** BARK_SHUTDOWN_GRACE_S: how long in-flight requests may finish after SIGTERM before they are cancelled (default 30). */
  readonly shutdownGraceS: number
  /** BARK_TRACE_KEEP: how many recent synthesis requests' traces are kept for GET /v1/traces/{id} (default 100; 0 keeps none). */
  readonly traceKeep: number
  /** BARK_VOICE_MAP over the default table: OpenAI voice names → Bark presets (./openaiVoices.ts). */
  readonly voiceMap: Readonly<Record<string, string>>
}

export const settings: Config.Config<ServerSettings> = Config.all({
  host: Config.String("BARK_HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.Int("BARK_PORT").pipe(
    Config.withDefault(8000),
    Config.mapEffect((port) =>
      port >= 0 && port <= 65_535
        ? Effect.succeed(port)
        : Effect.fail(invalid(`BARK_PORT=${port} is not a TCP port: use 1..65535, or 0 to let the OS pick`))
    )
  ),
  maxConcurrency: Config.Int("BARK_MAX_CONCURRENCY").pipe(
    Config.orElse(() => Config.Int("BARK_MAX_BATCH")),
    Config.withDefault(1),
    Config.mapEffect(atLeast("BARK_MAX_CONCURRENCY", 1))
  ),
  maxQueue: Config.Int("BARK_MAX_QUEUE").pipe(Config.withDefault(16), Config.mapEffect(atLeast("BARK_MAX_QUEUE", 0))),
  requestTimeoutS: Config.Number("BARK_REQUEST_TIMEOUT_S").pipe(
    Config.withDefault(60),
    Config.mapEffect(atLeast("BARK_REQUEST_TIMEOUT_S", 0.001))
  ),
  maxTextChars: Config.Int("BARK_MAX_TEXT_CHARS").pipe(Config.withDefault(4000), Config.mapEffect(atLeast("BARK_MAX_TEXT_CHARS", 1))),
  maxBodyBytes: Config.Int("BARK_MAX_BODY_BYTES").pipe(Config.withDefault(65_536), Config.mapEffect(atLeast("BARK_MAX_BODY_BYTES", 256))),
  memoryLimitMb: Config.Number("BARK_MEMORY_LIMIT_MB").pipe(
    Config.mapEffect(atLeast("BARK_MEMORY_LIMIT_MB", 1)),
    Config.option,
    Config.map(Option.getOrUndefined)
  ),
  cgroupRoot: Config.String("BARK_CGROUP_ROOT").pipe(Config.withDefault(DEFAULT_CGROUP_ROOT)),
  memoryWarnShare: Config.Number("BARK_MEMORY_WARN_SHARE").pipe(Config.withDefault(0.8), Config.mapEffect(share("BARK_MEMORY_WARN_SHARE"))),
  memoryShedShare: Config.Number("BARK_MEMORY_SHED_SHARE").pipe(
    Config.mapEffect(share("BARK_MEMORY_SHED_SHARE")),
    Config.option,
    Config.map(Option.getOrUndefined)
  ),
  memorySampleMs: Config.Int("BARK_MEMORY_SAMPLE_MS").pipe(Config.withDefault(1000), Config.mapEffect(atLeast("BARK_MEMORY_SAMPLE_MS", 10))),
  memoryGrowthMb: Config.Number("BARK_MEMORY_GROWTH_MB").pipe(Config.withDefault(100), Config.mapEffect(atLeast("BARK_MEMORY_GROWTH_MB", 0))),
  memoryGrowthWindowS: Config.Number("BARK_MEMORY_GROWTH_WINDOW_S").pipe(
    Config.withDefault(300),
    Config.mapEffect(atLeast("BARK_MEMORY_GROWTH_WINDOW_S", 1))
  ),
  memoryWarmupS: Config.Number("BARK_MEMORY_WARMUP_S").pipe(Config.withDefault(60), Config.mapEffect(atLeast("BARK_MEMORY_WARMUP_S", 0))),
  slowLoadS: Config.Number("BARK_SLOW_LOAD_S").pipe(Config.withDefault(60), Config.mapEffect(atLeast("BARK_SLOW_LOAD_S", 0))),
  queueWarnLength: Config.Int("BARK_QUEUE_WARN_LENGTH").pipe(Config.withDefault(10), Config.mapEffect(atLeast("BARK_QUEUE_WARN_LENGTH", 0))),
  readiness: Config.Literals(["strict", "lenient"], "BARK_READINESS").pipe(Config.withDefault("lenient" as const)),
  shutdownGraceS: Config.Number("BARK_SHUTDOWN_GRACE_S").pipe(Config.withDefault(30), Config.mapEffect(atLeast("BARK_SHUTDOWN_GRACE_S", 0))),
  traceKeep: Config.Int("BARK_TRACE_KEEP").pipe(Config.withDefault(100), Config.mapEffect(atLeast("BARK_TRACE_KEEP", 0))),
  voiceMap
})
