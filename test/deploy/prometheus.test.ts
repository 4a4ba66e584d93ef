/**
 * The Prometheus alerting rules under deploy/prometheus: valid, firing on the
 * synthetic series of alerts.test.yml and only there (`promtool check rules`
 * and `promtool test rules`, Debian's prometheus package, which .ci/run
 * installs when it can), and written against metrics the service really
 * exports (scraped from a running mock server).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { repoRoot } from "../support/cli.ts"
import { metrics, postJson, startServer, type TestServer } from "../server/support.ts"
import { hasRedis, type RedisServer, startRedis } from "../jobs/support.ts"

const rulesDir = path.join(repoRoot, "deploy", "prometheus")
const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" }).status === 0

describe.skipIf(!promtool)("promtool", () => {
  it("checks the rules and passes their unit tests", () => {
    const check = spawnSync("promtool", ["check", "rules", "alerts.yml"], { cwd: rulesDir, encoding: "utf8" })
    expect(check.status, check.stdout + check.stderr).toBe(0)
    expect(check.stdout).toContain("SUCCESS: 9 rules found")
    const test = spawnSync("promtool", ["test", "rules", "alerts.test.yml"], { cwd: rulesDir, encoding: "utf8" })
    expect(test.status, test.stdout + test.stderr).toBe(0)
    expect(test.stdout).toContain("SUCCESS")
  })
})

describe.skipIf(!hasRedis)("the alerting rules' metrics", () => {
  let server: TestServer
  let redis: RedisServer
  beforeAll(async () => {
    // With a job queue, so that its gauges (read from Redis) are exported too.
    redis = await startRedis()
    server = await startServer({ BARK_REDIS_URL: redis.url })
  })
  afterAll(async () => {
    await server.close()
    await redis.stop()
  })

  it("are all exported by the service, those the annotations point to included", async () => {
    expect((await postJson(`${server.url}/synthesize`, { text: "Hi." })).status).toBe(200)
    expect((await postJson(`${server.url}/synthesize`, { text: " " })).status).toBe(400) // an error, so the error counter has a series
    await new Promise((resolve) => setTimeout(resolve, 200)) // a memory sample
    const exported = new Set([...(await metrics(server.url)).keys()].map((sample) => sample.replace(/\{.*$/, "")))
    const used = new Set(fs.readFileSync(path.join(rulesDir, "alerts.yml"), "utf8").match(/\bbark_[a-z_]+\b/g))
    expect(used.size).toBeGreaterThanOrEqual(9)
    for (const name of used) expect(exported, name).toContain(name)
  })
})
