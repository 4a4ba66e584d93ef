/**
 * The service on a model from the (fake) hub with only some of its voices
 * fetched: GET /v1/voices lists what is there, not everything the repo's
 * speaker_embeddings_path.json names, and a request for another voice gets
 * the usual 400 listing the available ones.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import cpu from "../../pipelines/cpu.ts"
import * as Ready from "../../src/bark/stages/ready.ts"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"
import * as Server from "../../src/server/Server.ts"
import { testEngineOptions } from "../bark/engine/tinyModel.ts"
import { tinyBarkRepo } from "../support/barkRepo.ts"
import { type FakeHub, makeFakeHub } from "../support/fakeHub.ts"
import { json, postJson } from "./support.ts"

const REPO = "test-org/tiny-bark"
const FETCHED = "v2/en_speaker_1"
const NOT_FETCHED = "v2/en_speaker_0"

const profile = cpu.pipe(Pipeline.replace("ready", Ready.make(testEngineOptions)))

const scope = Effect.runSync(Scope.make())
const cache = fs.mkdtempSync(path.join(os.tmpdir(), "bark-serve-hub-"))
let hub: FakeHub
let url: string

beforeAll(async () => {
  const inScope = <A, E>(effect: Effect.Effect<A, E, any>) =>
    Effect.runPromise(Scope.provide(effect, scope).pipe(Effect.provide(NodeServices.layer)) as Effect.Effect<A, E>)
  hub = await inScope(makeFakeHub)
  const repo = await Effect.runPromise(tinyBarkRepo({ weights: "safetensors" }))
  hub.publish(REPO, { files: repo.files, lfs: ["model.safetensors"] })
  const config = {
    BARK_PORT: "0",
    BARK_CACHE_DIR: cache,
    BARK_MODEL: REPO,
    HF_ENDPOINT: hub.url,
    BARK_VOICES: FETCHED,
    BARK_INTRA_OP_THREADS: "1"
  }
  url = (await inScope(Server.start(profile, { config }))).url
}, 60_000)

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  fs.rmSync(cache, { recursive: true, force: true })
})

describe("voices of a hub model with some voices fetched", () => {
  it("GET /v1/voices lists only the fetched voices", async () => {
    const body = await json(await fetch(`${url}/v1/voices`))
    expect(body.voices).toEqual([FETCHED])
  })

  it("a voice the repo lists but that was not fetched gets a 400 naming the available ones", async () => {
    for (const route of ["/synthesize", "/v1/audio/speech"]) {
      const request = route === "/synthesize"
        ? { text: "Hello.", voice: NOT_FETCHED }
        : { model: "tts-1", input: "Hello.", voice: NOT_FETCHED }
      const response = await postJson(`${url}${route}`, request)
      expect(response.status).toBe(400)
      const { error } = await json(response)
      expect(error.tag).toBe("UnknownVoice")
      expect(error.message).toContain(`available: ${FETCHED}`)
      expect(error.remediation).toContain(`BARK_VOICES=${NOT_FETCHED}`)
    }
  })
})
