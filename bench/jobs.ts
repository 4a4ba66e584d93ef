/**
 * Job-queue throughput: jobs per minute with 1 and 2 `bark-pipeline worker`
 * processes sharing one queue, on the mock engine (BENCH_JOBS_MOCK_LATENCY_MS
 * per chunk, default 200, standing in for generation) and on the demo model
 * (random-weight Bark, q4, worker-thread engine). Each scenario gets a fresh
 * Redis (Debian's redis-server on a free port), one `serve --profile mock`
 * replica that takes the submissions, and its workers; it submits
 * BENCH_JOBS_MOCK (40) / BENCH_JOBS_DEMO (8) two-sentence jobs at once and
 * times the first submission to the last completion. Peak RSS (VmHWM) of each
 * worker is read from /proc when it stops.
 *
 *   npm run bench:jobs
 *   BENCH_JOBS_PROFILES=mock BENCH_JOBS_MOCK=20 node bench/jobs.ts
 *
 * Writes bench/results/jobs.md and jobs.json (and prints the table).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { procfs } from "../src/pipeline/memory.ts"
import { awaitJob, json, postJob, removeDirs, type Service, startRedis, startService, tempDir } from "../test/jobs/support.ts"

const env = process.env
const profiles = (env.BENCH_JOBS_PROFILES ?? "mock,demo").split(",")
const jobsPer = { mock: Number(env.BENCH_JOBS_MOCK ?? 40), demo: Number(env.BENCH_JOBS_DEMO ?? 8) } as Record<string, number>
const mockLatencyMs = env.BENCH_JOBS_MOCK_LATENCY_MS ?? "200"
const TEXT = "The narrator opens the scene with a short line. A second sentence follows it."

/** The child's peak RSS (VmHWM), MB. */
const peakRssMb = (pid: number | undefined): number | null => (pid === undefined ? null : procfs(`/proc/${pid}`).readMb() ?? null)

interface Row {
  readonly profile: string
  readonly workers: number
  readonly jobs: number
  readonly seconds: number
  readonly jobsPerMinute: number
  readonly workerPeakRssMb: ReadonlyArray<number | null>
}

const scenario = async (profile: string, workers: number, cache: string): Promise<Row> => {
  const redis = await startRedis()
  const services: Array<Service> = []
  try {
    const base = {
      BARK_REDIS_URL: redis.url,
      BARK_RESULTS_DIR: tempDir("bark-bench-results-"),
      BARK_CACHE_DIR: cache,
      BARK_DTYPE: "q4",
      BARK_MOCK_LATENCY_MS: mockLatencyMs,
      BARK_DEMO_OUT: path.join(cache, "demo.wav")
    }
    const api = await startService("serve", "mock", base)
    services.push(api)
    const started = await Promise.all(Array.from({ length: workers }, () => startService("worker", profile, base)))
    services.push(...started)
    const count = jobsPer[profile] ?? 8
    const t0 = performance.now()
    const ids = await Promise.all(Array.from({ length: count }, async (_, i) => (await json(await postJob(api.url, { text: TEXT, seed: i }))).id as string))
    await Promise.all(ids.map((id) => awaitJob(api.url, id, ["completed"], 900_000)))
    const seconds = (performance.now() - t0) / 1000
    const workerPeakRssMb = started.map((w) => peakRssMb(w.child.pid))
    return { profile, workers, jobs: count, seconds: Math.round(seconds * 10) / 10, jobsPerMinute: Math.round((count / seconds) * 600) / 10, workerPeakRssMb }
  } finally {
    await Promise.all(services.map((s) => s.stop()))
    await redis.stop()
  }
}

const rows: Array<Row> = []
for (const profile of profiles) {
  const cache = tempDir("bark-bench-cache-")
  for (const workers of [1, 2]) {
    const row = await scenario(profile, workers, cache)
    console.error(`${profile}, ${workers} worker(s): ${row.jobs} jobs in ${row.seconds} s = ${row.jobsPerMinute} jobs/min`)
    rows.push(row)
  }
}
removeDirs()

const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}`
const table = [
  `Job throughput (\`npm run bench:jobs\`), ${new Date().toISOString().slice(0, 10)}, ${machine}.`,
  `Mock: ${mockLatencyMs} ms of simulated generation per chunk. Demo: random-weight Bark at q4 on the worker-thread engine.`,
  "",
  "| engine | workers | jobs | seconds | jobs/min | worker peak RSS (MB) |",
  "|---|---:|---:|---:|---:|---|",
  ...rows.map((r) => `| ${r.profile} | ${r.workers} | ${r.jobs} | ${r.seconds} | ${r.jobsPerMinute} | ${r.workerPeakRssMb.join(", ")} |`)
].join("\n")
console.log(table)
const out = path.join(import.meta.dirname, "results")
fs.writeFileSync(path.join(out, "jobs.md"), table + "\n")
fs.writeFileSync(path.join(out, "jobs.json"), JSON.stringify({ machine, mockLatencyMs: Number(mockLatencyMs), rows }, null, 2) + "\n")
