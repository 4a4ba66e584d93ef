/**
 * `bark-pipeline parity` as an operator runs it: a child process on the golden
 * case, writing every output and comparing it with the reference. The numbers
 * themselves are checked in-process by test/bark/parity.test.ts.
 */
import { afterAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeTempDir, repoRoot, runCliProcess } from "../support/cli.ts"

const goldenRoot = path.resolve(repoRoot, "../shared/fixtures/golden")
const caseDir = fs.existsSync(goldenRoot)
  ? fs.readdirSync(goldenRoot, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(goldenRoot, e.name))[0]
  : undefined

/** The reference's outputs: every .npy that compare.py does not treat as an input. */
const goldenOutputs = (dir: string) =>
  fs.readdirSync(dir).filter((f) => f.endsWith(".npy") && !/_(input_ids|input_codes|text_token_ids|codes)\.npy$/.test(f)).sort()

const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

describe("bark-pipeline parity (child process)", () => {
  it.runIf(caseDir !== undefined)("writes every output of the golden case and --compare passes them all", async () => {
    const out = makeTempDir("bark-parity-cli-")
    dirs.push(out)
    const r = await runCliProcess(["parity", caseDir!, "--out", out, "--compare"])
    expect(r.code, r.stderr).toBe(0)
    const expected = goldenOutputs(caseDir!)
    expect(fs.readdirSync(out).sort()).toEqual(expected)
    const lines = r.stdout.trim().split("\n")
    expect(lines.filter((l) => l.startsWith("PASS")).map((l) => l.split(/\s+/)[1]).sort()).toEqual(expected)
    expect(lines.at(-1)).toBe(`${expected.length} passed, 0 failed`)
    expect(r.stderr).toContain("note: history prompt:")
  })

  it("exits 2 for a case folder that does not exist", async () => {
    const dir = makeTempDir("bark-parity-none-")
    dirs.push(dir)
    const r = await runCliProcess(["parity", path.join(dir, "missing"), "--out", path.join(dir, "out")])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("no case folder at")
  })
})
