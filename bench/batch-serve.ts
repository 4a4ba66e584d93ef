/**
 * The service with and without continuous batching: `serve --profile demo
 * --dtype q4` (random-weight Bark, worker-thread engine) driven over HTTP by
 * closed-loop clients, each sending POST /synthesize (a different seed per
 * request) as soon as its last answer came back. Scenarios: 1 client on an
 * engine that decodes alone, 8 clients on it (BARK_MAX_BATCH=1: requests take
 * turns), and 8 clients on BARK_MAX_BATCH=8 (their tokens share steps).
 * Requests per minute and mean latency, peak RSS of the server (VmHWM).
 *
 *   npm run bench:batch-serve        # BENCH_BATCH_REQUESTS (32) requests per scenario
 *
 * Writes bench/results/batch-serve.md and .json (and prints the table).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { procfs } from "../src/pipeline/memory.ts"
import { removeDirs, startService, tempDir } from "../test/jobs/support.ts"

const requests = Number(process.env.BENCH_BATCH_REQUESTS ?? 32)
const TEXT = "The narrator reads this line while the scene fades in."

/** The child's peak RSS (VmHWM), MB. */
const peakRssMb = (pid: number | undefined): number | null => (pid === undefined ? null : procfs(`/proc/${pid}`).readMb() ?? null)

const scenario = async (maxBatch: number, clients: number, cache: string) => {
  const server = await startService("serve", "demo", {
    BARK_CACHE_DIR: cache,
    BARK_DTYPE: "q4",
    BARK_MAX_BATCH: String(maxBatch),
    BARK_MAX_CONCURRENCY: String(clients),
    BARK_DEMO_OUT: path.join(cache, "demo.wav"),
    BARK_JOBS: "off"
  })
  try {
    let next = 0
    const latencies: Array<number> = []
    const t0 = performance.now()
    await Promise.all(Array.from({ length: clients }, async () => {
      while (next < requests) {
        const seed = next++
        const start = performance.now()
        const response = await fetch(`${server.url}/synthesize`, { method: "POST", body: JSON.stringify({ text: TEXT, seed }) })
        await response.arrayBuffer()
        if (response.status !== 200) throw new Error(`request ${seed}: ${response.status}`)
        latencies.push(performance.now() - start)
      }
    }))
    const seconds = (performance.now() - t0) / 1000
    return {
      max_batch: maxBatch,
      clients,
      requests,
      seconds: Math.round(seconds * 10) / 10,
      requests_per_minute: Math.round((requests / seconds) * 600) / 10,
      mean_latency_s: Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length / 10) / 100,
      peak_rss_mb: peakRssMb(server.child.pid)
    }
  } finally {
    await server.stop()
  }
}

const cache = tempDir("bark-bench-cache-")
const rows = []
for (const [maxBatch, clients] of [[1, 1], [1, 8], [8, 8]] as const) {
  const row = await scenario(maxBatch, clients, cache)
  console.error(`BARK_MAX_BATCH=${maxBatch}, ${clients} client(s): ${row.requests_per_minute} requests/min`)
  rows.push(row)
}
removeDirs()

const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, Node ${process.version}`
const table = [
  `The service with continuous batching (\`npm run bench:batch-serve\`), ${new Date().toISOString().slice(0, 10)}, ${machine}.`,
  `serve --profile demo --dtype q4, ${requests} requests per scenario ("${TEXT}", a seed each).`,
  "",
  "| BARK_MAX_BATCH | clients | requests/min | mean latency (s) | server peak RSS (MB) |",
  "|---:|---:|---:|---:|---:|",
  ...rows.map((r) => `| ${r.max_batch} | ${r.clients} | ${r.requests_per_minute} | ${r.mean_latency_s} | ${r.peak_rss_mb} |`)
].join("\n")
console.log(table)
const out = path.join(import.meta.dirname, "results")
fs.writeFileSync(path.join(out, "batch-serve.md"), table + "\n")
fs.writeFileSync(path.join(out, "batch-serve.json"), JSON.stringify({ machine, rows }, null, 2) + "\n")
