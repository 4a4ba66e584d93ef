/**
 * The job queue's knobs, as Effect Configs with documented defaults
 * (environment variables, or `--set K=V` on the command line). Read once when
 * a replica or a worker connects.
 *
 * @since 0.4.0
 */
import { Config, ConfigProvider, Effect } from "effect"

const invalid = (message: string) => new Config.ConfigError(new ConfigProvider.SourceError({ message }))

const atLeast = (name: string, min: number) => (value: number) =>
  value >= min ? Effect.succeed(value) : Effect.fail(invalid(`${name}=${value} must be at least ${min}`))

export interface JobSettings {
  /** BARK_REDIS_URL: the Redis that holds the queue (default redis://127.0.0.1:6379). */
  readonly redisUrl: string
  /** BARK_JOBS_QUEUE: the BullMQ queue's name (default bark-synthesis; its wait list is `bull:<name>:wait`). */
  readonly queue: string
  /** BARK_RESULTS_DIR: where finished jobs' audio is written (default ./results; a shared volume in production). */
  readonly resultsDir: string
  /**
   * BARK_WORKER_CONCURRENCY: jobs one worker process runs at once (default
   * BARK_MAX_BATCH, else 1: one generation saturates the CPU unless the engine
   * batches them into shared steps).
   */
  readonly concurrency: number
  /** BARK_JOB_ATTEMPTS: tries per job before it is dead-lettered (default 3). */
  readonly attempts: number
  /** BARK_JOB_BACKOFF_MS: the first retry's delay, doubled for each later one (default 2000). */
  readonly backoffMs: number
  /** BARK_JOB_MAX_TEXT_CHARS: longest text a job accepts (default 100000). */
  readonly maxTextChars: number
  /** BARK_JOB_LOCK_MS: how long a worker's hold on a job lasts unless renewed; a killed worker's job is retaken after it (default 30000). */
  readonly lockMs: number
  /** BARK_JOB_STALLED_CHECK_MS: how often workers look for jobs whose worker died (default 30000). */
  readonly stalledCheckMs: number
  /** BARK_JOB_RETENTION_S: how long finished jobs stay queryable in Redis (default 604800, a week). */
  readonly retentionS: number
  /** BARK_REDIS_CONNECT_TIMEOUT_S: how long a worker waits for Redis at startup before it fails (default 10). */
  readonly connectTimeoutS: number
  /** BARK_JOBS=off: a `serve` replica does not connect to Redis (no job routes). Default on. */
  readonly enabled: boolean
}

export const settings: Config.Config<JobSettings> = Config.all({
  redisUrl: Config.String("BARK_REDIS_URL").pipe(
    Config.withDefault("redis://127.0.0.1:6379"),
    Config.mapEffect((url) =>
      /^rediss?:\/\//.test(url)
        ? Effect.succeed(url)
        : Effect.fail(invalid(`BARK_REDIS_URL=${url} is not a Redis URL: use redis://host:port (or rediss:// for TLS)`))
    )
  ),
  queue: Config.String("BARK_JOBS_QUEUE").pipe(Config.withDefault("bark-synthesis")),
  resultsDir: Config.String("BARK_RESULTS_DIR").pipe(Config.withDefault("results")),
  concurrency: Config.Int("BARK_WORKER_CONCURRENCY").pipe(
    Config.orElse(() => Config.Int("BARK_MAX_BATCH")),
    Config.withDefault(1),
    Config.mapEffect(atLeast("BARK_WORKER_CONCURRENCY", 1))
  ),
  attempts: Config.Int("BARK_JOB_ATTEMPTS").pipe(Config.withDefault(3), Config.mapEffect(atLeast("BARK_JOB_ATTEMPTS", 1))),
  backoffMs: Config.Int("BARK_JOB_BACKOFF_MS").pipe(Config.withDefault(2000), Config.mapEffect(atLeast("BARK_JOB_BACKOFF_MS", 0))),
  maxTextChars: Config.Int("BARK_JOB_MAX_TEXT_CHARS").pipe(Config.withDefault(100_000), Config.mapEffect(atLeast("BARK_JOB_MAX_TEXT_CHARS", 1))),
  lockMs: Config.Int("BARK_JOB_LOCK_MS").pipe(Config.withDefault(30_000), Config.mapEffect(atLeast("BARK_JOB_LOCK_MS", 1000))),
  stalledCheckMs: Config.Int("BARK_JOB_STALLED_CHECK_MS").pipe(Config.withDefault(30_000), Config.mapEffect(atLeast("BARK_JOB_STALLED_CHECK_MS", 500))),
  retentionS: Config.Int("BARK_JOB_RETENTION_S").pipe(Config.withDefault(604_800), Config.mapEffect(atLeast("BARK_JOB_RETENTION_S", 60))),
  connectTimeoutS: Config.Number("BARK_REDIS_CONNECT_TIMEOUT_S").pipe(
    Config.withDefault(10),
    Config.mapEffect(atLeast("BARK_REDIS_CONNECT_TIMEOUT_S", 0.1))
  ),
  enabled: Config.Literals(["on", "off"], "BARK_JOBS").pipe(Config.withDefault("on" as const), Config.map((v) => v === "on"))
})
