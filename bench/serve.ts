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
 *
 * `--soak` (`npm run bench:soak`) runs the memory soak instead: per profile, a
 * fresh server, BENCH_SOAK_WARMUP (20) warm-up requests, then
 * BENCH_SOAK_MOCK_REQUESTS (1000) mock / BENCH_SOAK_DEMO_REQUESTS (200) demo
 * requests from BENCH_SOAK_CONCURRENCY (2) clients, with a memory sample after
 * a forced GC every BENCH_SOAK_MOCK_EVERY (50) / BENCH_SOAK_DEMO_EVERY (10)
 * requests. It reports RSS, V8 heap and native growth from the warm baseline
 * against a 50 MB target, and writes bench/results/soak.json (BENCH_SOAK_OUT) and prints a table.
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

/** One field of /proc/<pid>/status in bytes (the kB figures), NaN when absent (not Linux). */
const procStatus = (pid: number): Record<string, number> => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    return Object.fromEntries(
      text.split("\n").flatMap((l) => {
        const m = /^(Vm\w+|Rss\w+):\s+(\d+) kB/.exec(l)
        return m === null ? [] : [[m[1]!, Number(m[2]) * 1024]]
      })
    )
  } catch {
    return {}
  }
}

/** All of the server's `bark_process_*` gauges from one /metrics scrape (the route samples process.memoryUsage() as it answers). */
const processMetrics = async (url: string) => {
  const text = await (await fetch(`${url}/metrics`)).text()
  const get = (name: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`bark_process_${name} `))
    return line === undefined ? NaN : Number(line.split(" ")[1])
  }
  return { rss: get("resident_memory_bytes"), heapUsed: get("heap_used_bytes"), heapTotal: get("heap_total_bytes"), external: get("external_bytes") }
}

interface SoakSample {
  /** Requests sent after the warm-up when the sample was taken. */
  readonly requests: number
  readonly seconds: number
  /** VmRSS from /proc before the forced GC. */
  readonly rssBeforeGc: number
  /** The rest after a forced GC (SIGUSR2 → gc() in the server's main thread). */
  readonly rss: number
  readonly rssAnon: number
  readonly rssFile: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
  /**
   * RSS − V8 heap in use (heapUsed) of the main thread: native allocations, onnxruntime, the worker thread's isolate,
   * code, and V8's free heap pages. Not RSS − heapTotal: heapTotal counts committed pages that need not be resident,
   * so a young-generation resize moves it by tens of MB while RSS hardly changes.
   */
  readonly native: number
}

const soakSample = async (server: Server, requests: number, t0: number): Promise<SoakSample> => {
  const pid = server.child.pid!
  const rssBeforeGc = procStatus(pid)["VmRSS"] ?? NaN
  server.child.kill("SIGUSR2")
  await sleep(300)
  const m = await processMetrics(server.url)
  const p = procStatus(pid)
  const rss = p["VmRSS"] ?? m.rss
  return {
    requests,
    seconds: (performance.now() - t0) / 1000,
    rssBeforeGc,
    rss,
    rssAnon: p["RssAnon"] ?? NaN,
    rssFile: p["RssFile"] ?? NaN,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    native: rss - m.heapUsed
  }
}

const SOAK_TARGET_MB = 50

/** `n` calls of `send` from `concurrency` closed-loop clients. */
const batchOf = async (n: number, concurrency: number, send: () => Promise<void>) => {
  let started = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (started < n) {
      started++
      await send()
    }
  }))
}

const soakProfile = async (profile: "mock" | "demo", dir: string) => {
  const requests = Number(profile === "mock" ? env.BENCH_SOAK_MOCK_REQUESTS ?? 1000 : env.BENCH_SOAK_DEMO_REQUESTS ?? 200)
  const every = Number(profile === "mock" ? env.BENCH_SOAK_MOCK_EVERY ?? 50 : env.BENCH_SOAK_DEMO_EVERY ?? 10)
  const warmUp = Number(env.BENCH_SOAK_WARMUP ?? 20)
  const concurrency = Number(env.BENCH_SOAK_CONCURRENCY ?? 2)
  const mockLatency = env.BENCH_SOAK_MOCK_LATENCY_MS ?? "0"
  const server = await startServer(profile, profile === "mock" ? { BARK_MOCK_LATENCY_MS: mockLatency } : {}, dir)
  const statuses: Record<string, number> = {}
  const send = async () => {
    const r = await synthesize(server)
    statuses[r.status] = (statuses[r.status] ?? 0) + 1
  }
  try {
    const idle = await soakSample(server, 0, performance.now())
    // The warm-up uses the soak's concurrency, so that the buffers and allocator arenas of concurrent requests are in the baseline.
    await batchOf(warmUp, concurrency, send)
    for (const k of Object.keys(statuses)) delete statuses[k]
    const t0 = performance.now()
    const samples: Array<SoakSample> = [await soakSample(server, 0, t0)]
    let sent = 0
    while (sent < requests) {
      const batch = Math.min(every, requests - sent)
      await batchOf(batch, concurrency, send)
      sent += batch
      samples.push(await soakSample(server, sent, t0))
      const s = samples.at(-1)!
      console.error(`  ${profile}: ${sent}/${requests} requests, RSS ${mb(s.rss)} MB, heap ${mb(s.heapUsed)} MB, native ${mb(s.native)} MB`)
    }
    const seconds = (performance.now() - t0) / 1000
    const hwm = procStatus(server.child.pid!)["VmHWM"] ?? NaN
    const exitCode = await server.stop()
    const first = samples[0]!
    const last = samples.at(-1)!
    const growth = (key: keyof SoakSample) => ({
      lastMinusFirstMb: Number(((last[key] - first[key]) / 2 ** 20).toFixed(1)),
      maxMinusFirstMb: Number(((Math.max(...samples.map((s) => s[key])) - first[key]) / 2 ** 20).toFixed(1))
    })
    const rssGrowth = growth("rss")
    // A least-squares slope over the second half of the run: steady growth there is what a leak looks like, warm-up is not.
    const tail = samples.slice(Math.floor(samples.length / 2))
    const slope = (key: keyof SoakSample) => {
      const xs = tail.map((s) => s.requests)
      const ys = tail.map((s) => s[key])
      const mx = xs.reduce((a, b) => a + b, 0) / xs.length
      const my = ys.reduce((a, b) => a + b, 0) / ys.length
      const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0)
      const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0)
      return den === 0 ? NaN : Number((num / den / 1024).toFixed(2))
    }
    return {
      profile,
      settings: profile === "mock" ? { BARK_MOCK_LATENCY_MS: Number(mockLatency) } : {},
      requests,
      warmUp,
      sampleEvery: every,
      concurrency,
      seconds: Number(seconds.toFixed(1)),
      statuses,
      idleMb: Number(mb(idle.rss)),
      baselineMb: Number(mb(first.rss)),
      peakRssMb: Number(mb(hwm)),
      growthMb: {
        rss: rssGrowth,
        rssAnon: growth("rssAnon"),
        rssFile: growth("rssFile"),
        heapUsed: growth("heapUsed"),
        heapTotal: growth("heapTotal"),
        external: growth("external"),
        native: growth("native")
      },
      secondHalfSlopeKiBPerRequest: { rss: slope("rss"), heapUsed: slope("heapUsed"), native: slope("native") },
      targetMb: SOAK_TARGET_MB,
      pass: rssGrowth.lastMinusFirstMb < SOAK_TARGET_MB && rssGrowth.maxMinusFirstMb < SOAK_TARGET_MB,
      exitCode,
      samples
    }
  } finally {
    await Promise.all([...live].map((stop) => stop()))
  }
}

const soak = async () => {
  const results = []
  for (const profile of profiles) {
    if (profile !== "mock" && profile !== "demo") throw new Error(`--soak knows the mock and demo profiles, not ${profile}`)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bark-bench-soak-"))
    try {
      console.error(`soak: ${profile}`)
      results.push(await soakProfile(profile, dir))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  const report = {
    date: new Date().toISOString(),
    command: `${
      Object.entries(env).filter(([k]) => k.startsWith("BENCH_") || k === "BARK_ENGINE").map(([k, v]) => `${k}=${v} `).join("")
    }node bench/serve.ts --soak`,
    machine: machine(),
    server: `bark-pipeline serve --profile <p> --port 0 in a child process (node --expose-gc), BARK_MAX_CONCURRENCY=1, BARK_MAX_QUEUE=16, BARK_ENGINE=${env.BARK_ENGINE ?? "worker (serve's default)"}`,
    memorySources: {
      rss: "VmRSS, RssAnon, RssFile, VmHWM (peak) from /proc/<server pid>/status",
      heap: "bark_process_heap_used_bytes / heap_total_bytes / external_bytes from GET /metrics (process.memoryUsage() of the server's main thread; the worker thread's isolate is not in it)",
      native: "VmRSS − heapUsed (main-thread V8 heap in use): native allocations, onnxruntime arenas, the worker isolate, code, V8 free heap pages (heapTotal is reported apart: it counts committed pages that need not be resident)",
      gc: "every sample after SIGUSR2 → gc() in the server's main thread and a 300 ms pause; rssBeforeGc is VmRSS just before. The worker engine's isolate is not collected: its garbage awaiting a major GC is in RSS and native"
    },
    text: TEXT,
    results
  }
  const out = path.resolve(root, env.BENCH_SOAK_OUT ?? "bench/results/soak.json")
  fs.mkdirSync(path.dirname(out), { recursive: true })
  fs.writeFileSync(`${out}.tmp`, JSON.stringify(report, null, 2) + "\n")
  fs.renameSync(`${out}.tmp`, out)
  const rows = [
    "| profile | requests | s | 200 | baseline RSS MB | peak RSS MB | RSS growth last/max MB | anon | file | V8 heap used | native (RSS − heap used) | external | 2nd-half slope KiB/req | < 50 MB |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...results.map((r) => {
      const g = r.growthMb
      const lm = (x: { lastMinusFirstMb: number; maxMinusFirstMb: number }) => `${x.lastMinusFirstMb} / ${x.maxMinusFirstMb}`
      return `| ${r.profile} | ${r.requests} | ${r.seconds} | ${r.statuses["200"] ?? 0} | ${r.baselineMb} | ${r.peakRssMb} | ${lm(g.rss)} | ${lm(g.rssAnon)} | ${lm(g.rssFile)} | ${lm(g.heapUsed)} | ${
        lm(g.native)
      } | ${lm(g.external)} | ${r.secondHalfSlopeKiBPerRequest.rss} | ${r.pass ? "pass" : "FAIL"} |`
    })
  ]
  console.log(JSON.stringify({ ...report, results: results.map(({ samples: _, ...r }) => r) }, null, 2))
  console.log(rows.join("\n"))
  console.log(`\nWrote ${path.relative(root, out)} (with every sample).`)
}

if (process.argv.includes("--soak")) await soak()
else await main()
