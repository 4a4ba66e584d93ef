/**
 * A real Redis (Debian's redis-server) on a free 127.0.0.1 port, and
 * `bark-pipeline serve` / `worker` as child processes on the pinned Node,
 * for the job-queue tests.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { makeTempDir, repoRoot } from "../support/cli.ts"

export const hasRedis = (() => {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export const waitFor = async <A>(what: string, check: () => Promise<A | undefined> | A | undefined, timeoutMs = 20_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

export interface RedisServer {
  readonly url: string
  readonly port: number
  /** Stops it (SIGTERM: with appendonly the data is on disk). */
  readonly stop: () => Promise<void>
  /** Starts it again on the same port and data directory. */
  readonly start: () => Promise<void>
}

/** A redis-server of its own, with its append-only file on so a restart keeps the queue (as production Redis should). */
export const startRedis = async (): Promise<RedisServer> => {
  const port = await freePort()
  const dir = makeTempDir("bark-redis-")
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"], {
      stdio: "ignore"
    })
    await waitFor("redis-server to listen", () =>
      new Promise<true | undefined>((resolve) => {
        const socket = net.connect(port, "127.0.0.1")
        socket.on("connect", () => {
          socket.end()
          resolve(true)
        })
        socket.on("error", () => resolve(undefined))
      }))
  }
  const stop = async () => {
    const c = child
    if (c === undefined || c.exitCode !== null) return
    await new Promise((resolve) => {
      c.on("exit", resolve)
      c.kill("SIGTERM")
    })
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop: async () => {
      await stop()
    }
  }
}

export const cleanupRedis = async (redis: RedisServer | undefined) => {
  await redis?.stop()
}

export interface Service {
  readonly url: string
  readonly child: ChildProcess
  readonly stderr: () => string
  readonly exited: Promise<number | null>
  /** SIGTERM, and waits for the exit. */
  readonly stop: () => Promise<number | null>
}

const mainScript = path.join(repoRoot, "src/cli/main.ts")

/** `bark-pipeline <command> --profile <profile> --port 0` with `env`, resolved once it listens. */
export const startService = (
  command: "serve" | "worker",
  profile: string,
  env: Readonly<Record<string, string>>
): Promise<Service> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mainScript, command, "--profile", profile, "--port", "0"], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    const exited = new Promise<number | null>((done) => child.on("close", done))
    child.stderr!.on("data", (d) => {
      stderr += d
      const m = /(?:serving|taking jobs with) \S+ on (http:\/\/\S+)/.exec(stderr)
      if (m !== null) {
        resolve({
          url: m[1]!,
          child,
          stderr: () => stderr,
          exited,
          stop: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
            return exited
          }
        })
      }
    })
    exited.then((code) => reject(new Error(`${command} exited (${code}) before listening:\n${stderr}`)))
  })

/** A fresh directory for a test's results and cache, removed by `removeDirs`. */
const dirs: Array<string> = []
export const tempDir = (prefix: string) => {
  const dir = makeTempDir(prefix)
  dirs.push(dir)
  return dir
}
export const removeDirs = () => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

export const json = async (response: Response) => (await response.json()) as any

export const postJob = (url: string, body: unknown) =>
  fetch(`${url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

/** Polls a job until its state is one of `states`. */
export const awaitJob = (url: string, id: string, states: ReadonlyArray<string>, timeoutMs = 30_000) =>
  waitFor(`job ${id} to be ${states.join(" or ")}`, async () => {
    const status = await json(await fetch(`${url}/v1/jobs/${id}`))
    return states.includes(status.state) ? status : undefined
  }, timeoutMs)

/** Sums a counter's samples in Prometheus text whose labels contain `match`. */
export const metricSum = (text: string, name: string, match = ""): number =>
  text.split("\n")
    .filter((line) => line.startsWith(name) && line.includes(match))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0)

/** Three long-form chunks ("sentences" in a job's progress). */
export const LONG = [
  "The first sentence of a long script opens the scene with a view over the harbour at dawn.",
  "Then a second one follows it, describing the boats that leave one after another.",
  "A third sentence comes after that and names the fisherman who waits on the pier.",
  "And a fourth one closes the paragraph with the sound of the gulls above the water.",
  "A fifth starts the next part of the story, in the market where the catch is sold.",
  "The sixth is the last, and it brings the narrator back to the quiet of the evening."
].join(" ")
