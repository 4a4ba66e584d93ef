/**
 * Load and memory profile of the synthesis service, on loopback only,
 * bounded in requests and time. Starts `bark-pipeline serve` as a child
 * process (node --expose-gc) per scenario and drives it over HTTP:
 *
 * - responsiveness: GET /health latency while generations run;
 * - load: closed-loop clients at concurrency 1, 4, 16 (and a burst beyond the
 *   queue): p50/p95/p99 latency, throughput, 429 and 5xx counts;
 * - memory: idle RSS after GC, peak RSS over 1000 requests, RSS after them and
 *   after GC, growth per request.
 *
 * The demo profile (random-weight Bark, about 1 s a request) runs fewer
 * requests: BENCH_DEMO_REQUESTS per level (at least 2 per client) and
 * BENCH_DEMO_MEMORY_REQUESTS for memory. Its server runs in a temp directory,
 * where the recipe's own `synthesize` stage writes demo.wav.
 *
 *   node bench/serve.ts                     # mock and demo profiles, about 4 minutes
 *   BENCH_PROFILES=mock BENCH_MOCK_LATENCY_MS=100 BENCH_REQUESTS=60 node bench/serve.ts
 *
 * Writes bench/results/serve.md (and prints it).
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const entry = path.join(import.meta.dirname, "serveProcess.ts")
const env = process.env
const profiles = (env.BENCH_PROFILES ?? "mock,demo").split(",")
const mockLatencyMs = Number(env.BENCH_MOCK_LATENCY_MS ?? 100)

/** How much each profile is asked to do: the demo's requests take about a second each. */
const budgets = {
  mock: { perLevel: Number(env.BENCH_REQUESTS ?? 60), warmUp: 20, memory: Number(env.BENCH_MEMORY_REQUESTS ?? 1000), probeGenerations: 3 },
  demo: { perLevel: Number(env.BENCH_DEMO_REQUESTS ?? 12), warmUp: 5, memory: Number(env.BENCH_DEMO_MEMORY_REQUESTS ?? 50), probeGenerations: 5 }
}
const levelTimeLimitS = Number(env.BENCH_LEVEL_SECONDS ?? 60)
const TEXT = "Hello from the load test. This sentence is about as long as a short reply."

interface Server {
  readonly url: string
  /** The voice requests use: the first the loaded model lists. */
  readonly voice: string
  readonly child: ChildProcess
  readonly stop: () => Promise<number | null>
}

/** The stops of servers still running, so that a failed scenario leaves no child process behind. */
const live = new Set<Server["stop"]>()

const startServer = async (profile: string, settings: Readonly<Record<string, string>>, dir: string): Promise<Server> => {
  const { url, child, exited } = await spawnServer(profile, settings, dir)
  const stop = () => {
    live.delete(stop)
    child.kill("SIGTERM")
    return exited
  }
  live.add(stop)
  const voices = (await (await fetch(`${url}/v1/voices`)).json()) as { readonly voices: ReadonlyArray<string> }
  return { url, voice: voices.voices[0] ?? "announcer", child, stop }
}

const spawnServer = (profile: string, settings: Readonly<Record<string, string>>, dir: string) =>
  new Promise<{ url: string; child: ChildProcess; exited: Promise<number | null> }>((resolve, reject) => {
    const sets = Object.entries({ BARK_CACHE_DIR: path.join(dir, "cache"), ...settings }).flatMap(([k, v]) => ["--set", `${k}=${v}`])
    const child = spawn(process.execPath, ["--expose-gc", entry, "--profile", profile, "--port", "0", ...sets], {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    const exited = new Promise<number | null>((done) => child.on("close", done))
    const timer = setTimeout(() => reject(new Error(`${profile} did not start within 10 minutes:\n${stderr}`)), 600_000)
    child.stderr!.on("data", (d) => {
      stderr += d
      const m = /serving \S+ on (http:\/\/\S+)/.exec(stderr)
      if (m !== null) {
        clearTimeout(timer)
        resolve({ url: m[1]!, child, exited })
      }
    })
    exited.then((code) => reject(new Error(`${profile} exited (${code}) before serving:\n${stderr}`)))
  })

/** One `POST /synthesize`; a 4xx other than 429 means the bench asked wrongly, so it stops the bench. */
const synthesize = async (server: Server): Promise<{ readonly status: number; readonly ms: number }> => {
  const t0 = performance.now()
  const r = await fetch(`${server.url}/synthesize`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: TEXT, voice: server.voice, seed: 1 })
  })
  const body = await r.arrayBuffer()
  if (r.status >= 400 && r.status < 500 && r.status !== 429) {
    throw new Error(`POST /synthesize answered ${r.status}: ${new TextDecoder().decode(body)}`)
  }
  return { status: r.status, ms: performance.now() - t0 }
}

const metric = async (url: string, name: string): Promise<number> => {
  const text = await (await fetch(`${url}/metrics`)).text()
  const line = text.split("\n").find((l) => l.startsWith(`${name} `))
  return line === undefined ? NaN : Number(line.split(" ")[1])
}

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
const ms = (x: number) => (Number.isNaN(x) ? "–" : `${Math.round(x)}`)
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1)
const sleep = (t: number) => new Promise((r) => setTimeout(r, t))

/** Closed loop: `concurrency` clients send requests back to back until `total` were sent or the time is up. */
const load = async (server: Server, concurrency: number, total: number) => {
  const results: Array<{ status: number; ms: number }> = []
  let sent = 0
  const deadline = performance.now() + levelTimeLimitS * 1000
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (sent < total && performance.now() < deadline) {
      sent++
      results.push(await synthesize(server))
    }
  }))
  const seconds = (performance.now() - t0) / 1000
  const ok = results.filter((r) => r.status === 200).map((r) => r.ms).sort((a, b) => a - b)
  return {
    concurrency,
    requests: results.length,
    ok: ok.length,
    rejected: results.filter((r) => r.status === 429).length,
    serverErrors: results.filter((r) => r.status >= 500).length,
    p50: quantile(ok, 0.5),
    p95: quantile(ok, 0.95),
    p99: quantile(ok, 0.99),
    throughput: ok.length / seconds
  }
}

/** A burst of simultaneous requests beyond the queue: how many are rejected with 429. */
const burst = async (server: Server, n: number) => {
  const results = await Promise.all(Array.from({ length: n }, () => synthesize(server)))
  return { n, ok: results.filter((r) => r.status === 200).length, rejected: results.filter((r) => r.status === 429).length, other: results.filter((r) => r.status !== 200 && r.status !== 429).length }
}

/** /health latency while `generations` generations run one after another. */
const responsiveness = async (server: Server, generations: number) => {
  const timings: Array<number> = []
  const running = (async () => {
    for (let i = 0; i < generations; i++) timings.push((await synthesize(server)).ms)
  })()
  let done = false
  void running.finally(() => (done = true))
  await sleep(20)
  const samples: Array<number> = []
  while (!done && samples.length < 2000) {
    const t0 = performance.now()
    await fetch(`${server.url}/health`).then((r) => r.arrayBuffer())
    samples.push(performance.now() - t0)
    await sleep(10)
  }
  await running
  samples.sort((a, b) => a - b)
  return {
    generations,
    generationMs: quantile([...timings].sort((a, b) => a - b), 0.5),
    probes: samples.length,
    p50: quantile(samples, 0.5),
    p99: quantile(samples, 0.99),
    max: samples.at(-1) ?? NaN
  }
}

const gcRss = async (server: Server) => {
  server.child.kill("SIGUSR2")
  await sleep(300)
  return metric(server.url, "bark_process_resident_memory_bytes")
}

const memoryProfile = async (server: Server, requests: number, warmUp: number) => {
  const idle = await gcRss(server)
  for (let i = 0; i < warmUp; i++) await synthesize(server) // JIT, pools and caches settle before the baseline
  const warm = await gcRss(server)
  const warmHeap = await metric(server.url, "bark_process_heap_used_bytes")
  let peak = warm
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await metric(server.url, "bark_process_resident_memory_bytes"))
      await sleep(100)
    }
  })()
  const t0 = performance.now()
  let sent = 0
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (sent < requests && performance.now() - t0 < levelTimeLimitS * 5000) {
      sent++
      await synthesize(server)
    }
  }))
  sampling = false
  await sampler
  const after = await metric(server.url, "bark_process_resident_memory_bytes")
  const afterGc = await gcRss(server)
  const afterGcHeap = await metric(server.url, "bark_process_heap_used_bytes")
  return {
    requests: sent,
    idle,
    warm,
    peak,
    after,
    afterGc,
    perRequest: (afterGc - warm) / sent,
    heapPerRequest: (afterGcHeap - warmHeap) / sent,
    warmHeap,
    afterGcHeap
  }
}

const machine = () => {
  const cpus = os.cpus()
  return `${cpus[0]?.model ?? "unknown CPU"} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.platform()} ${os.release()}, Node ${process.version}`
}

const main = async () => {
  const lines: Array<string> = [
    "# Synthesis service: load and memory",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:serve\` (\`node bench/serve.ts\`) on ${machine()}.`,
    "Loopback HTTP, server in a child process (`node --expose-gc`, `bark-pipeline serve --profile <p> --port 0`),",
    `BARK_MAX_CONCURRENCY=1, BARK_MAX_QUEUE=16, serve's default BARK_ENGINE=worker (generation on a worker thread),`,
    `closed-loop clients sending \`POST /synthesize\` with a ${TEXT.length}-character sentence.`,
    "The machine is shared with other work: treat figures as indicative (±20 %).",
    ""
  ]
  for (const profile of profiles) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bark-bench-serve-"))
    const settings: Record<string, string> = profile === "mock" ? { BARK_MOCK_LATENCY_MS: String(mockLatencyMs) } : {}
    const budget = profile === "mock" ? budgets.mock : budgets.demo
    lines.push(`## Profile \`${profile}\`${profile === "mock" ? ` (BARK_MOCK_LATENCY_MS=${mockLatencyMs})` : ""}`, "")
    try {
      const t0 = performance.now()
      const server = await startServer(profile, settings, dir)
      const startupS = (performance.now() - t0) / 1000
      lines.push(`Process start to serving: ${startupS.toFixed(1)} s. Requests use the voice \`${server.voice}\`.`, "")

      const r = await responsiveness(server, budget.probeGenerations)
      lines.push(
        `Responsiveness: while ${r.generations} generations ran one after another (p50 ${ms(r.generationMs)} ms each), ${r.probes} GET /health probes answered in p50 ${
          r.p50.toFixed(1)
        } ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms.`,
        ""
      )

      lines.push("| concurrency | requests | 200 | 429 | 5xx | p50 ms | p95 ms | p99 ms | throughput req/s |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
      for (const c of [1, 4, 16]) {
        const l = await load(server, c, Math.max(budget.perLevel, 2 * c))
        lines.push(`| ${c} | ${l.requests} | ${l.ok} | ${l.rejected} | ${l.serverErrors} | ${ms(l.p50)} | ${ms(l.p95)} | ${ms(l.p99)} | ${l.throughput.toFixed(2)} |`)
      }
      const b = await burst(server, 40)
      lines.push("", `Burst of ${b.n} simultaneous requests (1 running + 16 queued fit): ${b.ok} × 200, ${b.rejected} × 429, ${b.other} other.`, "")
      const loadCode = await server.stop()

      // memory: a server without simulated latency, so that 1000 requests take seconds
      const memServer = await startServer(profile, profile === "mock" ? { BARK_MOCK_LATENCY_MS: "0" } : {}, dir)
      const m = await memoryProfile(memServer, budget.memory, budget.warmUp)
      const code = await memServer.stop()
      lines.push(
        "| memory | RSS MB |",
        "|---|---:|",
        `| idle, after GC | ${mb(m.idle)} |`,
        `| after ${budget.warmUp} warm-up requests and GC (baseline for growth) | ${mb(m.warm)} |`,
        `| peak during ${m.requests} requests (4 clients, sampled every 100 ms) | ${mb(m.peak)} |`,
        `| after ${m.requests} requests | ${mb(m.after)} |`,
        `| after ${m.requests} requests and GC | ${mb(m.afterGc)} |`,
        `| growth per request (after GC, from the warm baseline) | ${(m.perRequest / 1024).toFixed(1)} KiB |`,
        "",
        `V8 heap in use after GC: ${mb(m.warmHeap)} MB at the warm baseline, ${mb(m.afterGcHeap)} MB after the requests (${
          (m.heapPerRequest / 1024).toFixed(2)
        } KiB per request).`,
        "",
        `SIGTERM → exit code ${loadCode} (load server), ${code} (memory server).`,
        ""
      )
    } catch (e) {
      lines.push(`Not measured: ${(e as Error).message.split("\n")[0]}`, "")
    } finally {
      await Promise.all([...live].map((stop) => stop()))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  const report = lines.join("\n")
  fs.mkdirSync(path.join(root, "bench/results"), { recursive: true })
  fs.writeFileSync(path.join(root, "bench/results/serve.md.tmp"), report)
  fs.renameSync(path.join(root, "bench/results/serve.md.tmp"), path.join(root, "bench/results/serve.md"))
  console.log(report)
}

await main()
