/**
 * AAC's encoder lives in optional peer dependencies (mediabunny and
 * @mediabunny/aac-encoder). In a process where they cannot be resolved — a
 * consumer who did not install them — asking for aac fails with
 * `EncoderUnavailable` naming the packages to install, the other formats
 * still encode, and a job asking for aac is refused at enqueue.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, expect, it } from "vitest"
import { repoRoot } from "../support/cli.ts"

// Inside the checkout, so that the probes resolve effect from its node_modules.
fs.mkdirSync(path.join(repoRoot, ".cache"), { recursive: true })
const dir = fs.mkdtempSync(path.join(repoRoot, ".cache", "optional-encoder-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Makes the optional packages unresolvable, as they are where they were not installed. */
const hide = `import { registerHooks } from "node:module"
registerHooks({
  resolve(specifier, context, next) {
    if (specifier === "mediabunny" || specifier.startsWith("@mediabunny/")) {
      throw Object.assign(new Error("Cannot find package '" + specifier + "'"), { code: "ERR_MODULE_NOT_FOUND" })
    }
    return next(specifier, context)
  }
})
`

const probe = `import { Effect } from "effect"
import * as Encoders from ${JSON.stringify(path.join(repoRoot, "src/audio/encoders.ts"))}
import * as JobRequest from ${JSON.stringify(path.join(repoRoot, "src/jobs/JobRequest.ts"))}

const tagOf = (effect) => Effect.runPromise(effect.pipe(Effect.match({ onFailure: (e) => e, onSuccess: () => "ok" })))
const unavailable = await tagOf(Encoders.available("aac"))
const encoder = await tagOf(Encoders.encoder("aac", 24000, false))
const mp3 = await Effect.runPromise(Encoders.encodeWhole("mp3", new Float32Array(2400).fill(0.1), 24000))
const job = await tagOf(JobRequest.check({ text: "Hi.", format: "aac" }, { maxTextChars: 100 }))
console.log(JSON.stringify({
  available: { tag: unavailable._tag, message: unavailable.message, remediation: unavailable.remediation },
  encoder: encoder._tag,
  mp3Bytes: mp3.length,
  job: { tag: job._tag, param: job.param, remediation: job.remediation }
}))
`

it("without mediabunny, aac is unavailable with what to install; mp3 still encodes; an aac job is refused", () => {
  fs.writeFileSync(path.join(dir, "hide.mjs"), hide)
  fs.writeFileSync(path.join(dir, "probe.mjs"), probe)
  const r = spawnSync(process.execPath, ["--import", path.join(dir, "hide.mjs"), path.join(dir, "probe.mjs")], {
    cwd: repoRoot,
    encoding: "utf8"
  })
  expect(r.status, r.stderr).toBe(0)
  const out = JSON.parse(r.stdout)
  expect(out.available.tag).toBe("EncoderUnavailable")
  expect(out.available.message).toContain("mediabunny, @mediabunny/aac-encoder")
  expect(out.available.remediation).toContain("npm install mediabunny @mediabunny/aac-encoder")
  expect(out.encoder).toBe("EncoderUnavailable")
  expect(out.mp3Bytes).toBeGreaterThan(100)
  expect(out.job).toEqual({ tag: "JobRejected", param: "format", remediation: out.available.remediation })
})

it("with them installed (as here), aac encodes", () => {
  const probeInstalled = `import { Effect } from "effect"
import * as Encoders from ${JSON.stringify(path.join(repoRoot, "src/audio/encoders.ts"))}
const bytes = await Effect.runPromise(Encoders.encodeWhole("aac", new Float32Array(24000).fill(0.1), 24000))
console.log(bytes.length, bytes[0].toString(16), (bytes[1] & 0xf0).toString(16))
`
  fs.writeFileSync(path.join(dir, "installed.mjs"), probeInstalled)
  const r = spawnSync(process.execPath, [path.join(dir, "installed.mjs")], { cwd: repoRoot, encoding: "utf8" })
  expect(r.status, r.stderr).toBe(0)
  const [length, sync0, sync1] = r.stdout.trim().split(" ")
  expect(Number(length)).toBeGreaterThan(100)
  expect([sync0, sync1]).toEqual(["ff", "f0"]) // an ADTS frame's 12-bit syncword
})
