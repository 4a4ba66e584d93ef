/**
 * The demo profile served for real: `bark-pipeline serve --profile demo
 * --dtype q4` as a child process (worker-thread engine, random-weight Bark made
 * in a temp cache and converted to 4-bit weights, OS-chosen port), shared by
 * the tests in order — readiness, each
 * synthesis route, health during a generation, cancellation, then SIGTERM.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { MPEGDecoder } from "mpg123-decoder"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { decodeWav } from "../../src/audio/wav.ts"
import { ExitCode } from "../../src/cli/CliExit.ts"
import { makeTempDir, repoRoot } from "../support/cli.ts"
import { json, metrics, postJson } from "./support.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 50 ms until it returns a value, failing after `seconds`. */
const until = async <A>(what: string, seconds: number, check: () => Promise<A | undefined> | A | undefined): Promise<A> => {
  const deadline = Date.now() + seconds * 1000
  while (Date.now() < deadline) {
    const value = await check()
    if (value !== undefined) return value
    await sleep(50)
  }
  throw new Error(`timed out after ${seconds} s waiting for ${what}`)
}

/**
 * The URL from the `listen` stage's trace event. The server listens before
 * the models load but prints its URL only once ready, so the test reads it
 * from the trace, which is written line by line as the run goes.
 */
const listenUrl = (dir: string): string | undefined => {
  for (const file of fs.readdirSync(dir).filter((f) => f.startsWith("trace.jsonl"))) {
    for (const line of fs.readFileSync(path.join(dir, file), "utf8").split("\n")) {
      if (!line.includes("\"stage-finished\"")) continue
      const event = JSON.parse(line)
      if (event.result?.stage === "listen" && typeof event.result.metadata?.url === "string") return event.result.metadata.url
    }
  }
  return undefined
}

const inFlight = async (url: string): Promise<number> => (await json(await fetch(`${url}/health`))).queue.inFlight

const TEXT = "Hello from the demo model."

let dir: string
let child: ChildProcess
let stderr = ""
let exited: Promise<number | null>
let url: string
let firstReadiness: number

beforeAll(async () => {
  dir = makeTempDir("bark-serve-demo-")
  child = spawn(process.execPath, [path.join(repoRoot, "src/cli/main.ts"), "serve", "--profile", "demo", "--dtype", "q4", "--trace", "trace.jsonl"], {
    cwd: dir,
    env: { ...process.env, BARK_PORT: "0", BARK_CACHE_DIR: path.join(dir, "cache"), BARK_ENGINE: "worker", BARK_AUDIO_CACHE: "on" },
    stdio: ["ignore", "ignore", "pipe"]
  })
  child.stderr!.on("data", (d) => (stderr += d))
  exited = new Promise((resolve) => child.on("close", resolve))
  url = await until("the listen stage", 60, () => {
    if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode}) before listening:\n${stderr}`)
    return listenUrl(dir)
  })
  firstReadiness = (await fetch(`${url}/health/ready`)).status
})

afterAll(async () => {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGKILL")
    await exited
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

describe("bark-pipeline serve --profile demo (child process, worker engine)", () => {
  it("listens first: readiness is 503 while the models load, then 200", async () => {
    expect(firstReadiness).toBe(503)
    expect((await fetch(`${url}/health/live`)).status).toBe(200)
    const ready = await until("readiness", 110, async () => {
      const response = await fetch(`${url}/health/ready`)
      return response.status === 503 ? undefined : response
    })
    expect(ready.status).toBe(200)
    const body = await json(ready)
    const stage = (name: string) => body.report.results.find((r: { stage: string }) => r.stage === name)
    expect(stage("ready").metadata.engine).toBe("worker")
    expect(stage("ready").metadata.dtype).toBe("q4")
    expect(stage("safe-load").metadata.dtype).toBe("q4")
    expect(stage("preload").metadata.prepack).toBe(true) // the quantised kernels' default
    expect((await json(await fetch(`${url}/health`))).dtype).toBe("q4")
    expect((await metrics(url)).get(`bark_engine_info{kind="bark",dtype="q4"}`)).toBe(1)
  }, 120_000) // the demo's startup: seconds, longer on a busy machine

  it("POST /synthesize answers a 24 kHz WAV", async () => {
    const response = await postJson(`${url}/synthesize`, { text: TEXT, seed: 1 })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("audio/wav")
    const wav = await Effect.runPromise(decodeWav(new Uint8Array(await response.arrayBuffer())))
    expect(wav.sampleRate).toBe(24_000)
    expect(wav.channels).toBe(1)
    expect(wav.samples.length).toBeGreaterThan(0)
  })

  it("traces the synthesis recipe through the worker-thread engine; the same seeded request again is an audio-cache hit", async () => {
    const before = await metrics(url)
    const cache = (result: string) => `bark_audio_cache_total{result="${result}"}`
    const speak = (id: string) => postJson(`${url}/synthesize`, { text: TEXT, seed: 5 }, { headers: { "content-type": "application/json", "x-request-id": id } })
    const miss = await speak("demo-miss")
    expect(miss.headers.get("x-request-id")).toBe("demo-miss")
    const first = new Uint8Array(await miss.arrayBuffer())
    const hit = await speak("demo-hit")
    expect(new Uint8Array(await hit.arrayBuffer())).toEqual(first)
    // No voice skips the voice stage, and random weights may run a stage into its length cap (warned); none fails.
    const stages = async (id: string) => {
      const trace = await json(await fetch(`${url}/v1/traces/${id}`))
      expect(trace.outcome).toBe("completed")
      expect(trace.stages.filter((s: any) => s.outcome === "failed" || s.outcome === "not-run")).toEqual([])
      return trace.stages.map((s: any) => `${s.pipeline}#${s.chunk}:${s.stage}${s.stage === "audio-cache" ? `:${s.metadata.result}` : ""}`)
    }
    expect(await stages("demo-miss")).toEqual([
      "synthesis/prepare#null:normalize-text",
      "synthesis/prepare#null:split",
      "synthesis/prepare#null:voice",
      "synthesis/prepare#null:audio-cache:miss",
      "synthesis/chunk#0:tokenize",
      "synthesis/chunk#0:semantic",
      "synthesis/chunk#0:coarse",
      "synthesis/chunk#0:fine",
      "synthesis/chunk#0:codec",
      "synthesis/chunk#0:post"
    ])
    // A hit is the prepare run alone: no chunk is generated.
    expect(await stages("demo-hit")).toEqual([
      "synthesis/prepare#null:normalize-text",
      "synthesis/prepare#null:split",
      "synthesis/prepare#null:voice",
      "synthesis/prepare#null:audio-cache:hit"
    ])
    const after = await metrics(url)
    expect(after.get(cache("hit"))).toBe(before.get(cache("hit"))! + 1)
    expect(after.get(cache("miss"))).toBe(before.get(cache("miss"))! + 1)
    const semantic = (m: Map<string, number>) =>
      ["succeeded", "warned"].reduce((n, outcome) => n + (m.get(`bark_synthesis_stage_seconds_count{stage="semantic",outcome="${outcome}"}`) ?? 0), 0)
    expect(semantic(after)).toBe(semantic(before) + 1)
    const svg = await (await fetch(`${url}/v1/traces/demo-miss?format=svg`)).text()
    expect(svg).toContain(`data-stage="chunk 1 · semantic"`)
  })

  it("POST /v1/audio/speech through OpenAI's client answers raw 16-bit PCM, and an MP3 that decodes to sound", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 })
    const pcm = await client.audio.speech.create({ model: "tts-1", voice: "v2/en_speaker_0", input: TEXT, response_format: "pcm" })
    expect(pcm.headers.get("content-type")).toBe("audio/pcm;rate=24000")
    const bytes = (await pcm.arrayBuffer()).byteLength
    expect(bytes).toBeGreaterThan(0)
    expect(bytes % 2).toBe(0)
    const mp3 = await client.audio.speech.create({ model: "tts-1", voice: "v2/en_speaker_0", input: TEXT })
    expect(mp3.headers.get("content-type")).toBe("audio/mpeg")
    const decoder = new MPEGDecoder()
    await decoder.ready
    const decoded = decoder.decode(new Uint8Array(await mp3.arrayBuffer()))
    decoder.free()
    expect(decoded.sampleRate).toBe(24_000)
    const samples = decoded.channelData[0]!
    expect(samples.length / 24_000).toBeGreaterThan(0.1)
    expect(samples.some((x) => Math.abs(x) > 0.01)).toBe(true)
  })

  it("GET /v1/voices lists the demo model's voices; one of them synthesizes, an unknown one is a 400", async () => {
    const body = await json(await fetch(`${url}/v1/voices`))
    expect(body.sampleRate).toBe(24_000)
    expect(body.voices.length).toBeGreaterThan(0)
    const voice: string = body.voices[0]
    expect((await postJson(`${url}/synthesize`, { text: TEXT, voice })).status).toBe(200)
    const unknown = await postJson(`${url}/synthesize`, { text: TEXT, voice: "no_such_voice" })
    expect(unknown.status).toBe(400)
  })

  it("answers GET /health while a generation runs", async ({ annotate }) => {
    const generation = postJson(`${url}/synthesize`, { text: TEXT }).then((r) => r.arrayBuffer().then(() => r.status))
    let done = false
    void generation.finally(() => (done = true))
    const latencies: Array<number> = []
    let sawGeneration = false
    while (!done) {
      const t0 = performance.now()
      const response = await fetch(`${url}/health`)
      const body = await json(response)
      latencies.push(performance.now() - t0)
      expect(response.status).toBe(200)
      if (body.queue.inFlight === 1) sawGeneration = true
      await sleep(10)
    }
    expect(await generation).toBe(200)
    expect(sawGeneration).toBe(true)
    await annotate(`${latencies.length} /health probes during one generation, max ${Math.max(...latencies).toFixed(1)} ms`)
  })

  it("cancels the generation when the client disconnects", async () => {
    const interrupted = `bark_generations_total{outcome="interrupted"}`
    const completed = `bark_generations_total{outcome="completed"}`
    const before = await metrics(url)
    const abort = new AbortController()
    const gone = postJson(`${url}/synthesize`, { text: TEXT }, { signal: abort.signal }).catch((e: Error) => e)
    await until("the generation to start", 30, async () => (await inFlight(url)) === 1 ? true : undefined)
    abort.abort()
    expect(await gone).toBeInstanceOf(Error)
    const after = await until("the generation to stop", 30, async () => {
      const m = await metrics(url)
      return m.get(interrupted) !== before.get(interrupted) && m.get("bark_requests_in_flight") === 0 ? m : undefined
    })
    expect(after.get(interrupted)).toBe(before.get(interrupted)! + 1)
    expect(after.get(completed)).toBe(before.get(completed))
    expect((await postJson(`${url}/synthesize`, { text: TEXT })).status).toBe(200)
  })

  it("on SIGTERM finishes the in-flight request and exits 0", async () => {
    const pending = postJson(`${url}/synthesize`, { text: TEXT })
    await until("the generation to start", 30, async () => (await inFlight(url)) === 1 ? true : undefined)
    child.kill("SIGTERM")
    const response = await pending
    expect(response.status).toBe(200)
    const wav = new Uint8Array(await response.arrayBuffer())
    expect(new DataView(wav.buffer).getUint32(40, true)).toBe(wav.length - 44) // the whole file arrived
    expect(await exited).toBe(ExitCode.ok)
    expect(stderr).toContain("shutting down: draining in-flight requests")
    await expect(fetch(`${url}/health/live`)).rejects.toThrow()
  })
})
