/**
 * The Kubernetes manifests under deploy/k8s and the Dockerfile, without a
 * cluster or a Docker daemon: every object validates against the Kubernetes
 * API schemas (kubernetes-models) or KEDA's (@kubernetes-models/keda), the
 * probes point at routes a running server answers (the mock profile), the
 * termination grace covers the drain or the job in progress, the service and
 * the workers share the results volume and the Redis, the autoscaler watches
 * the queue's wait list, and the image's entry point, port and profile are
 * the package's own.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject"
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication"
import { Deployment } from "kubernetes-models/apps/v1/Deployment"
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim"
import { Secret } from "kubernetes-models/v1/Secret"
import { Service } from "kubernetes-models/v1/Service"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { repoRoot } from "../support/cli.ts"
import { startServer, type TestServer } from "../server/support.ts"

const load = (file: string): any[] =>
  parseAllDocuments(fs.readFileSync(path.join(repoRoot, "deploy", "k8s", file), "utf8")).map((d) => d.toJS())
const models: Record<string, new(data: never) => { validate(): void }> = {
  Deployment,
  Service,
  PersistentVolumeClaim,
  Secret,
  ScaledObject,
  TriggerAuthentication
}
/** Validates every object against its kind's schema; throws, naming the kind, on the first that fails. */
const validateAll = (objects: ReadonlyArray<any>) => {
  for (const object of objects) {
    const model = models[object.kind]
    if (model === undefined) throw new Error(`no schema for ${object.kind}`)
    try {
      new model(object as never).validate()
    } catch (e) {
      throw new Error(`${object.kind} ${object.metadata?.name}: ${(e as Error).message}`)
    }
  }
}
const named = (objects: ReadonlyArray<any>, kind: string, name: string) => {
  const found = objects.find((m) => m.kind === kind && m.metadata.name === name)
  if (found === undefined) throw new Error(`no ${kind} ${name}`)
  return found
}
/** An env var of a container: its literal value, or its `valueFrom`. */
const envOf = (c: any) => (name: string) => c.env.find((e: { name: string }) => e.name === name)
const value = (c: any, name: string): string | undefined => envOf(c)(name)?.value

const manifests = load("serve.yaml")
const deployment = named(manifests, "Deployment", "bark-serve")
const container = deployment.spec.template.spec.containers[0]
const env = (name: string) => value(container, name)

const workerManifests = load("worker.yaml")
const worker = named(workerManifests, "Deployment", "bark-worker")
const workerContainer = worker.spec.template.spec.containers[0]
const scaledObject = named(workerManifests, "ScaledObject", "bark-worker")

/** The probes of `c` answer 200 on a running server, on the container's port 8000, and /metrics is scraped there. */
const expectProbesAnswered = async (url: string, d: any, c: any) => {
  const ports = new Map(c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]))
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    const { path: route, port } = c[probe].httpGet
    expect(ports.get(port), `${d.metadata.name} ${probe}`).toBe(8000)
    expect((await fetch(`${url}${route}`)).status, `${d.metadata.name} ${probe} ${route}`).toBe(200)
  }
  const annotations = d.spec.template.metadata.annotations
  expect(annotations["prometheus.io/scrape"]).toBe("true")
  expect(Number(annotations["prometheus.io/port"])).toBe(8000)
  expect(annotations["prometheus.io/path"]).toBe("/metrics")
  expect((await fetch(`${url}/metrics`)).status).toBe(200)
}

describe("deploy/k8s/serve.yaml", () => {
  it("holds the cache and results claims, the Redis Secret, a Deployment and a Service, each valid against the API schemas", () => {
    expect(manifests.map((m) => `${m.kind} ${m.metadata.name}`).sort()).toEqual([
      "Deployment bark-serve",
      "PersistentVolumeClaim bark-cache",
      "PersistentVolumeClaim bark-results",
      "Secret bark-redis",
      "Service bark-serve"
    ])
    expect(() => validateAll(manifests)).not.toThrow()
    const broken = structuredClone(deployment)
    broken.spec.template.spec.containers[0].ports[0].containerPort = "8000"
    expect(() => new Deployment(broken).validate()).toThrow(/containerPort must be integer/)
  })

  it("gives the drain its time: termination grace ≥ BARK_SHUTDOWN_GRACE_S + the preStop pause", () => {
    const grace = Number(env("BARK_SHUTDOWN_GRACE_S"))
    const pause = container.lifecycle.preStop.sleep.seconds
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(grace + pause)
  })

  it("asks for at least the memory the service was measured to peak at (docs/models.md), and runs as non-root", () => {
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
      await expectProbesAnswered(server.url, deployment, container)
    })

    it("of the worker too: it serves the same health and metrics routes", async () => {
      await expectProbesAnswered(server.url, worker, workerContainer)
      expect(workerContainer.readinessProbe.httpGet.path).toBe("/health/ready")
      expect(workerContainer.livenessProbe.httpGet.path).toBe("/health/live")
      expect(workerContainer.startupProbe.httpGet.path).toBe("/health/live")
      // The check has teeth: a route the server lacks is refused.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(404)
    })
  })
})

describe("deploy/k8s/worker.yaml", () => {
  const workerEnv = envOf(workerContainer)
  const mountOf = (d: any, claimName: string) => {
    const volume = d.spec.template.spec.volumes.find((v: any) => v.persistentVolumeClaim?.claimName === claimName)
    if (volume === undefined) return undefined
    return d.spec.template.spec.containers[0].volumeMounts.find((m: { name: string }) => m.name === volume.name)
  }

  it("holds the worker Deployment, a KEDA ScaledObject and its TriggerAuthentication, each valid against its schema", () => {
    expect(workerManifests.map((m) => `${m.apiVersion} ${m.kind} ${m.metadata.name}`).sort()).toEqual([
      "apps/v1 Deployment bark-worker",
      "keda.sh/v1alpha1 ScaledObject bark-worker",
      "keda.sh/v1alpha1 TriggerAuthentication bark-redis"
    ])
    expect(() => validateAll(workerManifests)).not.toThrow()
    // KEDA's schema is applied, not just parsed: wrong types and a missing target are refused.
    const wrongType = structuredClone(scaledObject)
    wrongType.spec.maxReplicaCount = "8"
    expect(() => validateAll([wrongType])).toThrow(/maxReplicaCount must be integer/)
    const noTarget = structuredClone(scaledObject)
    delete noTarget.spec.scaleTargetRef
    expect(() => validateAll([noTarget])).toThrow(/scaleTargetRef/)
    const auth = structuredClone(named(workerManifests, "TriggerAuthentication", "bark-redis"))
    delete auth.spec.secretTargetRef[0].key
    expect(() => validateAll([auth])).toThrow(/key/)
  })

  it("runs the service's image as `worker --profile cpu`, with its memory, security context and model cache", () => {
    expect(workerContainer.image).toBe(container.image)
    expect(workerContainer.args).toEqual(["worker", "--profile", container.args[2]])
    expect(workerContainer.resources).toEqual(container.resources)
    expect(value(workerContainer, "BARK_DTYPE")).toBe(env("BARK_DTYPE"))
    expect(worker.spec.template.spec.securityContext).toEqual(deployment.spec.template.spec.securityContext)
    expect(mountOf(worker, "bark-cache")?.mountPath).toBe("/cache")
    expect(mountOf(worker, "bark-cache")?.mountPath).toBe(mountOf(deployment, "bark-cache")?.mountPath)
    expect(value(workerContainer, "BARK_WORKER_CONCURRENCY")).toBe("1")
    expect(value(workerContainer, "BARK_HOST")).toBe("0.0.0.0")
    expect(value(workerContainer, "BARK_PORT")).toBe(String(workerContainer.ports[0].containerPort))
  })

  it("is not behind the bark-serve Service, and leaves its replica count to the autoscaler", () => {
    const service = named(manifests, "Service", "bark-serve")
    const labels = worker.spec.template.metadata.labels
    const selects = (pod: Record<string, string>) =>
      Object.entries(service.spec.selector as Record<string, string>).every(([k, v]) => pod[k] === v)
    expect(selects(deployment.spec.template.metadata.labels)).toBe(true)
    expect(selects(labels)).toBe(false)
    expect(Object.entries(worker.spec.selector.matchLabels).every(([k, v]) => labels[k] === v)).toBe(true)
    expect(worker.spec.replicas).toBeUndefined()
  })

  it("has termination grace above BARK_SHUTDOWN_GRACE_S, to finish the job in progress, and no preStop pause", () => {
    const grace = Number(value(workerContainer, "BARK_SHUTDOWN_GRACE_S"))
    expect(grace).toBeGreaterThanOrEqual(300) // one job can take minutes on CPU
    expect(worker.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(grace)
    expect(workerContainer.lifecycle?.preStop).toBeUndefined()
  })

  it("shares the results claim with bark-serve, mounted where each one's BARK_RESULTS_DIR says", () => {
    const claim = named(manifests, "PersistentVolumeClaim", "bark-results")
    expect(claim.spec.accessModes).toEqual(["ReadWriteMany"])
    for (const [d, c] of [[deployment, container], [worker, workerContainer]]) {
      const dir = value(c, "BARK_RESULTS_DIR")
      expect(dir, d.metadata.name).toMatch(/^\//)
      expect(mountOf(d, "bark-results")?.mountPath, d.metadata.name).toBe(dir)
      expect(mountOf(d, "bark-results")?.readOnly, d.metadata.name).toBeFalsy()
    }
    expect(value(workerContainer, "BARK_RESULTS_DIR")).toBe(env("BARK_RESULTS_DIR"))
  })

  it("takes BARK_REDIS_URL from the same Secret as bark-serve, and KEDA the same server as host:port", () => {
    const secret = named(manifests, "Secret", "bark-redis")
    const ref = workerEnv("BARK_REDIS_URL").valueFrom.secretKeyRef
    expect(envOf(container)("BARK_REDIS_URL").valueFrom.secretKeyRef).toEqual(ref)
    expect(ref.name).toBe(secret.metadata.name)
    const url = new URL(secret.stringData[ref.key])
    expect(url.protocol).toMatch(/^rediss?:$/)

    const auth = named(workerManifests, "TriggerAuthentication", "bark-redis")
    for (const trigger of scaledObject.spec.triggers) expect(trigger.authenticationRef.name).toBe(auth.metadata.name)
    const parameters = new Map(auth.spec.secretTargetRef.map((r: any) => [r.parameter, r]))
    const address: any = parameters.get("address")
    expect(address.name).toBe(secret.metadata.name)
    expect(secret.stringData[address.key]).toBe(`${url.hostname}:${url.port || "6379"}`)
    for (const r of auth.spec.secretTargetRef) expect(Object.keys(secret.stringData), r.parameter).toContain(r.key)
  })

  it("scales the worker Deployment on the BullMQ wait list bull:bark-synthesis:wait, 1 to 8 replicas", () => {
    const target = scaledObject.spec.scaleTargetRef
    expect(target.name).toBe(worker.metadata.name)
    expect([target.apiVersion ?? "apps/v1", target.kind ?? "Deployment"]).toEqual([worker.apiVersion, worker.kind])
    expect(scaledObject.spec.minReplicaCount).toBe(1)
    expect(scaledObject.spec.maxReplicaCount).toBeGreaterThan(scaledObject.spec.minReplicaCount)
    const redis = new Map(scaledObject.spec.triggers.filter((t: any) => t.type === "redis").map((t: any) => [t.metadata.listName, t]))
    const waiting: any = redis.get("bull:bark-synthesis:wait")
    expect(waiting?.metadata.listLength).toBe("2")
    // Busy workers are not scaled away: one per running job, BARK_WORKER_CONCURRENCY jobs each.
    const running: any = redis.get("bull:bark-synthesis:active")
    expect(running?.metadata.listLength).toBe(value(workerContainer, "BARK_WORKER_CONCURRENCY"))
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
