/**
 * `bark-pipeline synthesize` as a child process on a tiny model through a
 * local startup recipe: a decodable WAV, the streamed variant, the trace,
 * exit 2 on usage errors and no partial file on failure.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NodeServices } from "@effect/platform-node"
import { makeRandomCheckpoint, presets } from "../../src/dev/randomCheckpoint.ts"
import { writeBarkModelDir } from "../../src/dev/modelDir.ts"
import { decodeWav } from "../../src/audio/wav.ts"
import * as JsonlSink from "../../src/pipeline/sinks/jsonl.ts"
import { type CliResult, makeTempDir, repoRoot } from "../support/cli.ts"

const recipe = path.join(repoRoot, "test/bark/engine/localRecipe.ts")
let dir: string
let model: string
let cli: string

/**
 * A CLI root with the synthesize command, ended as src/cli/main.ts ends its
 * program (exit codes included). It lives in a temporary folder, so packages
 * are imported by their resolved location in this repository.
 */
const writeCli = (file: string) =>
  fs.writeFileSync(
    file,
    `import { NodeRuntime, NodeServices } from "${import.meta.resolve("@effect/platform-node")}"
import { Effect } from "${import.meta.resolve("effect")}"
import { Command } from "${import.meta.resolve("effect/cli")}"
import { teardown } from "${repoRoot}/src/cli/CliExit.ts"
import * as Synthesize from "${repoRoot}/src/cli/commands/synthesize.ts"
const cli = Command.make("bark-pipeline").pipe(Command.withSubcommands([Synthesize.command]))
Command.runWith(cli, { version: "0.0.0" })(process.argv.slice(2)).pipe(
  Effect.tapError((e) => Effect.sync(() => e._tag === "CliExit" && console.error("error: " + e.message + "\\nfix: " + e.remediation))),
  Effect.provide(NodeServices.layer),
  (program) => NodeRuntime.runMain(program, { teardown, disableErrorReporting: true })
)
`
  )

const runCli = (args: ReadonlyArray<string>): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

beforeAll(async () => {
  dir = makeTempDir("bark-synth-cli-")
  model = path.join(dir, "model")
  cli = path.join(dir, "cli.ts")
  writeCli(cli)
  await Effect.runPromise(
    Effect.flatMap(makeRandomCheckpoint(presets.tiny), (c) => writeBarkModelDir(model, c)).pipe(Effect.provide(NodeServices.layer))
  )
}, 60_000)

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const base = (out: string) => ["synthesize", "Hello there. How are you today, my friend?", "--pipeline", recipe, "--model", model, "--out", out]

describe("bark-pipeline synthesize (child process)", () => {
  it("writes a decodable WAV, traces the synthesis as a stage, and streams the same audio", async () => {
    const out = path.join(dir, "out", "hello.wav")
    const trace = path.join(dir, "t.jsonl")
    const r = await runCli([...base(out), "--voice", "v2/en_speaker_1", "--seed", "7", "--trace", trace])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/wrote .*hello\.wav: .* s of audio in 1 chunk \(seed 7\)/)
    expect(r.stderr).toMatch(/✓ synthesize\s+succeeded/)
    const wav = Effect.runSync(decodeWav(fs.readFileSync(out)))
    expect(wav.sampleRate).toBe(24_000)
    expect(wav.format).toBe("pcm16")
    expect(wav.samples.length).toBeGreaterThan(0)
    const events = Effect.runSync(JsonlSink.read(trace))
    expect(events.some((e) => e.type === "progress" && e.stage === "synthesize" && e.unit === "tokens")).toBe(true)
    const finished = events.flatMap((e) => (e.type === "stage-finished" && e.result.stage === "synthesize" ? [e.result] : []))
    expect(finished[0]?.metadata).toMatchObject({ chunks: 1, seed: 7, sampler: "multinomial" })

    const streamed = path.join(dir, "streamed.wav")
    const s = await runCli([...base(streamed), "--voice", "v2/en_speaker_1", "--seed", "7", "--stream"])
    expect(s.code, s.stderr).toBe(0)
    expect(s.stdout).toMatch(/chunk 1 \(.* s\): Hello there\. How are you today, my friend\?/)
    expect(fs.readFileSync(streamed)).toEqual(fs.readFileSync(out))
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([])
  }, 60_000)

  it("--synthesis draft runs the draft lane (its fine stage skipped in the trace); an unknown recipe is a usage error", async () => {
    const out = path.join(dir, "draft.wav")
    const trace = path.join(dir, "draft.jsonl")
    const r = await runCli([...base(out), "--seed", "7", "--synthesis", "draft", "--trace", trace])
    expect(r.code, r.stderr).toBe(0)
    const events = Effect.runSync(JsonlSink.read(trace))
    const fine = events.flatMap((e) => (e.type === "stage-finished" && e.result.stage === "fine" ? [e.result] : []))
    expect(fine.map((f) => f.outcome)).toEqual(["skipped"])
    const codec = events.flatMap((e) => (e.type === "stage-finished" && e.result.stage === "codec" ? [e.result.metadata] : []))
    expect(codec[0]).toMatchObject({ codebooks: 2, kbps: 1.5 })
    expect(r.stderr).toMatch(/draft\/chunk 1: 6 stages/)
    const unknown = await runCli([...base(path.join(dir, "none.wav")), "--synthesis", "nope"])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown synthesis recipe "nope"')
    expect(unknown.stderr).toContain("synthesis, draft")
  }, 60_000)

  it("exits 2 on a usage error and leaves no file", async () => {
    const out = path.join(dir, "bad.wav")
    const badSeed = await runCli([...base(out), "--seed", "seven"])
    expect(badSeed.code).toBe(2)
    const badVoice = await runCli([...base(out), "--voice", "v2/xx_speaker_9"])
    expect(badVoice.code).toBe(2)
    expect(badVoice.stderr).toContain("v2/en_speaker_0, v2/en_speaker_1")
    expect(fs.existsSync(out)).toBe(false)
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([])
  }, 60_000)
})
