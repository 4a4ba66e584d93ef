/**
 * The Kubernetes manifests under deploy/k8s and the Dockerfile, without a
 * cluster or a Docker daemon: every object validates against the Kubernetes
 * API schemas (kubernetes-models), the probes point at routes a running
 * server answers (the mock profile), the termination grace covers the drain,
 * and the image's entry point, port and profile are the package's own.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Deployment } from "kubernetes-models/apps/v1/Deployment"
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim"
import { Service } from "kubernetes-models/v1/Service"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { repoRoot } from "../support/cli.ts"
import { startServer, type TestServer } from "../server/support.ts"

const manifests = parseAllDocuments(fs.readFileSync(path.join(repoRoot, "deploy", "k8s", "serve.yaml"), "utf8")).map((d) => d.toJS())
const models: Record<string, new(data: never) => { validate(): void }> = { Deployment, Service, PersistentVolumeClaim }
const deployment = manifests.find((m) => m.kind === "Deployment")
const container = deployment.spec.template.spec.containers[0]
const env = (name: string) => container.env.find((e: { name: string }) => e.name === name)?.value

describe("deploy/k8s/serve.yaml", () => {
  it("holds a PersistentVolumeClaim, a Deployment and a Service, each valid against the API schemas", () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(["Deployment", "PersistentVolumeClaim", "Service"])
    for (const manifest of manifests) expect(() => new models[manifest.kind]!(manifest as never).validate(), manifest.kind).not.toThrow()
    const broken = structuredClone(deployment)
    broken.spec.template.spec.containers[0].ports[0].containerPort = "8000"
    expect(() => new Deployment(broken).validate()).toThrow(/containerPort must be integer/)
  })

  it("gives the drain its time: termination grace ≥ BARK_SHUTDOWN_GRACE_S + the preStop pause", () => {
    const grace = Number(env("BARK_SHUTDOWN_GRACE_S"))
    const pause = container.lifecycle.preStop.sleep.seconds
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(grace + pause)
  })

  it("asks for at least the memory the service was measured to peak at (README), and runs as non-root", () => {
    const mib = (quantity: string) => Number(quantity.slice(0, -2)) * (quantity.endsWith("Gi") ? 1024 : 1)
    expect(mib(container.resources.requests.memory)).toBeGreaterThanOrEqual(2240) // fp32 serve peak 2.10–2.24 GB
    expect(mib(container.resources.limits.memory)).toBeGreaterThanOrEqual(mib(container.resources.requests.memory))
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true)
  })

  describe("probes against a running server", () => {
    let server: TestServer
    beforeAll(async () => {
      server = await startServer()
    })
    afterAll(() => server.close())

    it("point at routes the server answers with 200 once ready, on the container's port", async () => {
      const ports = new Map(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]))
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const { path: route, port } = container[probe].httpGet
        expect(ports.get(port), probe).toBe(8000)
        expect((await fetch(`${server.url}${route}`)).status, `${probe} ${route}`).toBe(200)
      }
      expect(deployment.spec.template.metadata.annotations["prometheus.io/path"]).toBe("/metrics")
      expect((await fetch(`${server.url}/metrics`)).status).toBe(200)
    })
  })
})

describe("Dockerfile", () => {
  const dockerfile = fs.readFileSync(path.join(repoRoot, "Dockerfile"), "utf8")
  const packageJson = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8"))

  it("runs the package's own bin as a non-root user, on the port and profile the manifests use", () => {
    const entry = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(dockerfile)![1]!)
    expect(entry[1]).toBe(`node_modules/bark-pipeline/${packageJson.bin["bark-pipeline"].replace(/^\.\//, "")}`)
    expect(packageJson.files).toContain("bin")
    expect(/^USER node$/m.test(dockerfile)).toBe(true)
    expect(dockerfile).toMatch(/^EXPOSE 8000$/m)
    expect(JSON.parse(/^CMD (.+)$/m.exec(dockerfile)![1]!)).toEqual(container.args)
    expect(fs.existsSync(path.join(repoRoot, "pipelines", `${container.args[2]}.ts`))).toBe(true)
    expect(dockerfile).toMatch(/^VOLUME \/cache$/m)
  })
})
