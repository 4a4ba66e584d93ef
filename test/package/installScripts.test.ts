/**
 * Install scripts are reviewed: `allowScripts` in package.json covers every
 * installed package that has one (`npm install-scripts ls`, read-only, lists
 * none), so a new dependency with an install script cannot slip in unnoticed;
 * the Dockerfile's installs hold to the same policy under
 * `--strict-allow-scripts`, and install the optional AAC peers at the
 * versions the repository tests.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot } from "../support/cli.ts"

const packageJson = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8"))
const dockerfile = fs.readFileSync(path.join(repoRoot, "Dockerfile"), "utf8")

describe("install scripts", () => {
  it("allowScripts covers every installed package with an install script (npm install-scripts ls)", () => {
    const out = execFileSync("npm", ["install-scripts", "ls", "--json", "--loglevel=error"], {
      cwd: repoRoot,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"]
    })
    expect(JSON.parse(out)).toEqual({ allowScripts: [] })
  })

  it("allowScripts has name-only entries, the node binary allowed and nothing else", () => {
    const entries = Object.entries(packageJson.allowScripts as Record<string, boolean>)
    for (const [key] of entries) expect(key, "a name-only entry").toMatch(/^(@[^/@]+\/)?[^/@]+$/)
    expect(entries.filter(([, allowed]) => allowed).map(([name]) => name)).toEqual(["node"])
    expect(fs.existsSync(path.join(repoRoot, ".npmrc"))).toBe(false)
  })

  it("the Dockerfile installs under --strict-allow-scripts, its app denying what the repository denies", () => {
    const installs = dockerfile.split("\n").filter((line) => /\bnpm (ci|install)\b/.test(line) && !/--global/.test(line))
    expect(installs).toHaveLength(2)
    for (const line of installs) expect(line).toContain("--strict-allow-scripts")
    expect(dockerfile).not.toContain(".npmrc")
    expect(dockerfile).not.toContain("--onnxruntime-node-install")
    const app = JSON.parse(/echo '(\{.*\})' > package\.json/.exec(dockerfile)![1]!)
    const denied = Object.fromEntries(Object.entries(packageJson.allowScripts).filter(([, allowed]) => allowed === false))
    expect(app.allowScripts).toEqual(denied)
  })

  it("the image installs the optional AAC peers at the devDependencies' versions", () => {
    for (const name of ["mediabunny", "@mediabunny/aac-encoder"]) {
      expect(packageJson.peerDependenciesMeta[name]?.optional).toBe(true)
      expect(dockerfile).toContain(` ${name}@${packageJson.devDependencies[name]}`)
    }
  })
})
