/**
 * The service through OpenAI's official client (`openai` on npm), as apps
 * that speak OpenAI's speech API use it: speech in wav and pcm for every
 * OpenAI voice name, `instructions` accepted, the models list and lookup,
 * and errors parsed into the client's error classes with OpenAI's fields.
 * The mock profile serves; BARK_VOICE_MAP overrides the voice table.
 */
import { ConfigProvider, Effect } from "effect"
import OpenAI from "openai"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { decodeWav } from "../../src/audio/wav.ts"
import { defaultVoiceMap, OPENAI_VOICES, resolveVoice, voiceMap } from "../../src/server/openaiVoices.ts"
import { json, startServer, type TestServer } from "./support.ts"

let server: TestServer
let client: OpenAI

beforeAll(async () => {
  server = await startServer({ BARK_VOICE_MAP: JSON.stringify({ verse: "v2/de_speaker_3" }) })
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 })
})
afterAll(() => server.close())

const speak = async (voice: string, format: "wav" | "pcm", extra: Record<string, unknown> = {}) => {
  const response = await client.audio.speech.create({ model: "tts-1", voice, input: "Hello from the client.", response_format: format, ...extra })
  return { type: response.headers.get("content-type"), bytes: new Uint8Array(await response.arrayBuffer()) }
}

describe("OpenAI's client against the service", () => {
  it.each(OPENAI_VOICES)("speaks with the OpenAI voice %s as a 24 kHz WAV", async (voice) => {
    const { type, bytes } = await speak(voice, "wav")
    expect(type).toBe("audio/wav")
    const wav = await Effect.runPromise(decodeWav(bytes))
    expect(wav.sampleRate).toBe(24_000)
    expect(wav.samples.length).toBeGreaterThan(24_000 / 2)
    expect(wav.samples.some((x) => x !== 0)).toBe(true)
  })

  it("answers raw 16-bit PCM, accepts instructions, and Bark's own voice names keep working", async () => {
    const pcm = await speak("v2/en_speaker_3", "pcm", { instructions: "Speak cheerfully." })
    expect(pcm.type).toBe("audio/pcm;rate=24000")
    expect(pcm.bytes.length % 2).toBe(0)
    expect(pcm.bytes.length).toBeGreaterThan(24_000)
  })

  it("lists the voices with the OpenAI names that map onto them, the override included", async () => {
    const body = await json(await fetch(`${server.url}/v1/audio/voices`))
    expect(body.aliases.alloy).toBe(defaultVoiceMap["alloy"])
    expect(body.aliases.verse).toBe("v2/de_speaker_3")
    expect(Object.keys(body.aliases).sort()).toEqual([...OPENAI_VOICES].sort())
    expect(body.voices).toContain("v2/en_speaker_6")
  })

  it("lists the models, and finds each of them", async () => {
    const ids = []
    for await (const model of client.models.list()) ids.push(model.id)
    expect(ids).toEqual(["bark-pipeline/mock", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"])
    expect((await client.models.retrieve("bark-pipeline/mock")).id).toBe("bark-pipeline/mock") // repo ids have a slash
    const one = await client.models.retrieve("tts-1-hd")
    expect(one).toMatchObject({ id: "tts-1-hd", object: "model", owned_by: "bark-pipeline" })
    const missing = await client.models.retrieve("whisper-1").catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError)
    expect((missing as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found")
  })

  it("turns errors into the client's classes with OpenAI's type, code and param", async () => {
    const format = await speak("alloy", "m4a" as "wav").catch((e: unknown) => e)
    expect(format).toBeInstanceOf(OpenAI.BadRequestError)
    const e = format as InstanceType<typeof OpenAI.BadRequestError>
    expect(e.status).toBe(400)
    expect(e.type).toBe("invalid_request_error")
    expect(e.code).toBe("unsupported_format")
    expect(e.param).toBe("response_format")
    const voice = (await speak("no_such_voice", "wav").catch((x: unknown) => x)) as InstanceType<typeof OpenAI.BadRequestError>
    expect(voice).toBeInstanceOf(OpenAI.BadRequestError)
    expect(voice.code).toBe("unknown_voice")
    expect(voice.param).toBe("voice")
    const empty = (await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: " " }).catch((x: unknown) => x)) as InstanceType<
      typeof OpenAI.BadRequestError
    >
    expect(empty.param).toBe("input")
    // This service's own fields ride along.
    const raw = await json(await fetch(`${server.url}/v1/audio/speech`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } }))
    expect(raw.error).toMatchObject({ type: "invalid_request_error", code: "invalid_request", tag: "InvalidRequest", param: null })
    expect(raw.error.remediation).toBeTypeOf("string")
  })
})

describe("BARK_VOICE_MAP", () => {
  const read = (env: Record<string, string>) =>
    Effect.runPromise(
      Effect.gen(function*() {
        return yield* voiceMap
      }).pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))
    )

  it("overrides the default table from a JSON object or a JSON file, case-insensitively; unknown names pass through", async () => {
    expect(await read({})).toEqual(defaultVoiceMap)
    expect((await read({ BARK_VOICE_MAP: '{"Alloy":"v2/fr_speaker_1"}' }))["alloy"]).toBe("v2/fr_speaker_1")
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "voice-map-")), "voices.json")
    fs.writeFileSync(file, JSON.stringify({ nova: "announcer" }))
    const fromFile = await read({ BARK_VOICE_MAP: file })
    expect(fromFile["nova"]).toBe("announcer")
    expect(fromFile["echo"]).toBe(defaultVoiceMap["echo"])
    expect(resolveVoice(fromFile, "NOVA")).toBe("announcer")
    expect(resolveVoice(fromFile, "v2/en_speaker_2")).toBe("v2/en_speaker_2")
  })

  it("refuses a map that is not a JSON object of strings, saying what to give", async () => {
    await expect(read({ BARK_VOICE_MAP: '{"alloy": 3}' })).rejects.toThrow(/JSON object of voice names to Bark presets/)
    await expect(read({ BARK_VOICE_MAP: "/no/such/file.json" })).rejects.toThrow(/cannot read \/no\/such\/file.json/)
  })
})
