import { afterAll, describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { ExitCode } from "../../src/cli/CliExit.ts"
import { makeTempDir } from "../support/cli.ts"
import { postJson } from "./support.ts"

const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

describe("bark-pipeline serve (child process)", () => {
  it("on SIGTERM finishes the in-flight request, stops listening and exits", async () => {
    const cache = makeTempDir("bark-serve-")
    dirs.push(cache)
    const child = spawn(process.execPath, [
      path.join(import.meta.dirname, "serveProcess.ts"),
      "--profile", "mock", "--port", "0",
      "--set", "BARK_MOCK_LATENCY_MS=800", "--set", `BARK_CACHE_DIR=${cache}`
    ], { stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve))
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on("data", (d) => {
        stderr += d
        const m = /serving \S+ on (http:\/\/\S+)/.exec(stderr)
        if (m !== null) resolve(m[1]!)
      })
      exited.then(() => reject(new Error(`serve exited before listening:\n${stderr}`)))
    })
    expect(stderr).toMatch(/✓ mock-engine\s+succeeded/)

    const inFlight = postJson(`${url}/synthesize`, { text: "Finish this sentence before you go." })
    await new Promise((resolve) => setTimeout(resolve, 300))
    child.kill("SIGTERM")
    const response = await inFlight
    expect(response.status).toBe(200)
    const wav = new Uint8Array(await response.arrayBuffer())
    expect(new DataView(wav.buffer).getUint32(40, true)).toBe(wav.length - 44) // the whole file arrived

    const code = await exited
    expect(stderr).toContain("shutting down: draining in-flight requests")
    expect(code).toBe(ExitCode.ok)
    await expect(fetch(`${url}/health/live`)).rejects.toThrow()
  })
})
