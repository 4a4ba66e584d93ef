/** Starts the synthesis service in-process on 127.0.0.1 with an OS-chosen port, for tests and the bench. */
import { Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import mock from "../../pipelines/mock.ts"
import type * as Pipeline from "../../src/pipeline/Pipeline.ts"
import type { TraceSink } from "../../src/pipeline/TraceSink.ts"
import * as Server from "../../src/server/Server.ts"

export interface TestServer {
  readonly url: string
  readonly running: Server.Running
  readonly close: () => Promise<void>
}

const baseConfig = (cache: string) => ({ BARK_PORT: "0", BARK_CACHE_DIR: cache, BARK_MEMORY_SAMPLE_MS: "50" })

/** Starts a server for `profile` (the mock by default) and waits until its startup finished. */
export const startServer = async (
  config: Readonly<Record<string, string>> = {},
  profile: Pipeline.Any = mock
): Promise<TestServer> => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "bark-serve-"))
  const scope = Effect.runSync(Scope.make())
  const close = async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    fs.rmSync(cache, { recursive: true, force: true })
  }
  try {
    const running = await Effect.runPromise(
      Server.start(profile, { config: { ...baseConfig(cache), ...config } }).pipe(Scope.provide(scope))
    )
    return { url: running.url, running, close }
  } catch (e) {
    await close()
    throw e
  }
}

/**
 * Starts a server whose startup the test controls: resolves with the URL as
 * soon as the `listen` stage is up, while the rest of the profile still runs.
 */
export const startListening = (
  profile: Pipeline.Any,
  config: Readonly<Record<string, string>> = {}
): Promise<{ readonly url: string; readonly started: Promise<unknown>; readonly close: () => Promise<void> }> => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "bark-serve-"))
  const scope = Effect.runSync(Scope.make())
  let started: Promise<unknown> = Promise.resolve()
  return new Promise((resolve, reject) => {
    const sink: TraceSink = {
      emit: (event) =>
        Effect.sync(() => {
          if (event.type === "stage-finished" && event.result.stage === "listen") {
            const url = event.result.metadata["url"]
            if (typeof url === "string") resolve({ url, started, close })
          }
        })
    }
    const close = async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      fs.rmSync(cache, { recursive: true, force: true })
    }
    started = Effect.runPromise(
      Server.start(profile, { sinks: [sink], config: { ...baseConfig(cache), ...config } }).pipe(Scope.provide(scope))
    )
    started.catch(reject)
  })
}

export const postJson = (url: string, body: unknown, init: RequestInit = {}) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), ...init })

/** Parses Prometheus text: `name{labels}` → value. Throws on a line that is not a comment, blank or a sample. */
export const parseMetrics = (text: string): Map<string, number> => {
  const samples = new Map<string, number>()
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue
    // Label values are quoted and may hold braces (`route="/v1/models/{id}"`).
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?) (-?[0-9.eE+-]+|NaN|[+-]Inf)$/.exec(line)
    if (m === null) throw new Error(`not a Prometheus sample: ${line}`)
    samples.set(m[1]!, Number(m[2]!.replace("Inf", "Infinity")))
  }
  return samples
}

export const metrics = async (url: string) => parseMetrics(await (await fetch(`${url}/metrics`)).text())

/** A response's JSON body, loosely typed for assertions. */
export const json = async (response: Response): Promise<any> => await response.json()
