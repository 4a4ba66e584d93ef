/**
 * A Hugging Face compatible hub on 127.0.0.1 for tests: the revision
 * endpoint, the tree and paths-info endpoints (what `@huggingface/hub`
 * lists and downloads with), resolve URLs with LFS files redirected to a second "CDN" origin,
 * HEAD, Range requests, and the hub's ETag / X-Linked-Etag / X-Repo-Commit
 * headers. Tests publish repositories in memory, inject faults per file and
 * read back every request it saw.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export interface RepoContents {
  /** Repository-relative path → content. */
  readonly files: Readonly<Record<string, string | Uint8Array>>
  /** Files stored with LFS (served by redirect to the CDN origin). */
  readonly lfs?: ReadonlyArray<string>
  /** Revisions (branches, tags, refs/pr/N) that point at this commit; default ["main"]. */
  readonly revisions?: ReadonlyArray<string>
}

export interface RecordedRequest {
  readonly origin: "hub" | "cdn"
  readonly method: string
  /** Path without the query, still URL-encoded. */
  readonly path: string
  readonly headers: IncomingHttpHeaders
}

export interface FakeHub {
  /** The hub endpoint (HF_ENDPOINT). */
  readonly url: string
  /** Publishes a commit of `repo` and returns its hash. */
  readonly publish: (repo: string, contents: RepoContents) => string
  /** Every request so far, oldest first. */
  readonly requests: ReadonlyArray<RecordedRequest>
  readonly clearRequests: () => void
  /** Requests for one repository file (resolve and CDN), optionally of one method. */
  readonly fileRequests: (file: string, method?: string) => ReadonlyArray<RecordedRequest>
  /** The next transfer of `file` stops after `bytes` bytes and the connection is cut. */
  readonly cutOnce: (file: string, bytes: number) => void
  /** The next transfer of `file` stops after `bytes` bytes and hangs until the client gives up. */
  readonly stallOnce: (file: string, bytes: number) => void
  /** The next `times` transfers of `file` carry wrong bytes. */
  readonly corrupt: (file: string, times?: number) => void
  /** The next `times` resolve requests for `file` are answered with `status`. */
  readonly failNext: (file: string, status: number, times?: number) => void
  /** Without `Authorization: Bearer {token}`, the hub answers 401. */
  readonly requireToken: (token: string) => void
  /** Every file transfer waits this long before answering; default 0. */
  readonly delayTransfers: (millis: number) => void
  /** The most file transfers that were in progress at the same time. */
  readonly maxConcurrentTransfers: () => number
  /** Whether the revision endpoint honours `?blobs=true` (sizes, blob ids, LFS info); default true. */
  readonly listBlobs: (on: boolean) => void
}

interface StoredFile {
  readonly content: Uint8Array
  readonly lfs: boolean
  readonly sha256: string
  readonly gitBlobId: string
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex")
const gitBlobId = (data: Uint8Array) => createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex")

/** Parses "bytes=a-" / "bytes=a-b" against a size; undefined for no or unusable ranges. */
const parseRange = (header: string | undefined, size: number) => {
  const match = header === undefined ? null : /^bytes=(\d+)-(\d*)$/.exec(header)
  if (match === null) return undefined
  const start = Number(match[1])
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1)
  return { start, end }
}

const listen = (server: Server) =>
  Effect.callback<string>((resume) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed(`http://127.0.0.1:${port}`))
    })
  })

const close = (server: Server) =>
  Effect.callback<void>((resume) => {
    server.closeAllConnections()
    server.close(() => resume(Effect.void))
  })

/** Starts the fake hub (and its CDN origin) for the enclosing scope. */
export const makeFakeHub = Effect.gen(function*() {
  const commits = new Map<string, Map<string, StoredFile>>() // `${repo}@${commit}` → files
  const refs = new Map<string, string>() // `${repo}@${revision}` → commit
  const blobs = new Map<string, StoredFile & { readonly name: string }>() // sha256 → LFS file
  const requests: Array<RecordedRequest> = []
  const cuts = new Map<string, { bytes: number; stall: boolean }>()
  const corruptions = new Map<string, number>()
  const failures = new Map<string, { status: number; times: number }>()
  let token: string | undefined
  let blobsListed = true
  let published = 0
  let transferDelay = 0
  let activeTransfers = 0
  let maxTransfers = 0

  const take = (counter: Map<string, number>, file: string) => {
    const left = counter.get(file) ?? 0
    if (left > 0) counter.set(file, left - 1)
    return left > 0
  }

  /** Sends `file` honouring Range, with the faults set for it. */
  const sendContent = (req: IncomingMessage, res: ServerResponse, name: string, file: StoredFile, headers: Record<string, string>) => {
    let content = file.content
    if (req.method !== "HEAD" && take(corruptions, name)) {
      content = Uint8Array.from(content)
      content[content.length - 1] = (content[content.length - 1] ?? 0) ^ 0xff
    }
    const size = content.length
    const range = parseRange(req.headers.range, size)
    if (range !== undefined && range.start >= size) {
      res.writeHead(416, { "content-range": `bytes */${size}` }).end()
      return
    }
    const body = range === undefined ? content : content.subarray(range.start, range.end + 1)
    const respond = () => {
      res.writeHead(range === undefined ? 200 : 206, {
        ...headers,
        "accept-ranges": "bytes",
        "content-length": String(body.length),
        ...(range === undefined ? {} : { "content-range": `bytes ${range.start}-${range.end}/${size}` })
      })
      if (req.method === "HEAD") return res.end()
      const cut = cuts.get(name)
      if (cut !== undefined && cut.bytes < body.length) {
        cuts.delete(name)
        res.write(body.subarray(0, cut.bytes), () => {
          if (!cut.stall) res.socket?.destroy()
        })
        return
      }
      res.end(body)
    }
    activeTransfers += 1
    maxTransfers = Math.max(maxTransfers, activeTransfers)
    res.on("close", () => {
      activeTransfers -= 1
    })
    if (transferDelay > 0) setTimeout(respond, transferDelay)
    else respond()
  }

  const json = (res: ServerResponse, status: number, value: unknown) =>
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value))

  const handleHub = (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      return json(res, 401, { error: "Invalid credentials" })
    }
    const api = /^\/api\/models\/(.+)\/revision\/([^/]+)$/.exec(path)
    if (api !== null) {
      const repo = api[1]!
      const revision = decodeURIComponent(api[2]!)
      const commit = refs.get(`${repo}@${revision}`)
      const files = commit === undefined ? undefined : commits.get(`${repo}@${commit}`)
      if (commit === undefined || files === undefined) return json(res, 404, { error: "Revision Not Found" })
      const withBlobs = blobsListed && query.get("blobs") === "true"
      const siblings = [...files].map(([rfilename, f]) =>
        withBlobs
          ? {
            rfilename,
            size: f.content.length,
            blobId: f.gitBlobId,
            ...(f.lfs ? { lfs: { sha256: f.sha256, size: f.content.length } } : {})
          }
          : { rfilename }
      )
      return json(res, 200, { id: repo, sha: commit, siblings })
    }
    // The tree (recursive listing) and paths-info endpoints, as @huggingface/hub calls them.
    const entry = (name: string, f: StoredFile) => ({
      type: "file",
      path: name,
      size: f.content.length,
      oid: f.gitBlobId,
      ...(f.lfs ? { lfs: { oid: f.sha256, size: f.content.length, pointerSize: 134 } } : {})
    })
    const listing = /^\/api\/models\/([^/]+\/[^/]+)\/(tree|paths-info)\/([^/]+)$/.exec(path)
    if (listing !== null) {
      const repo = listing[1]!
      const commit = refs.get(`${repo}@${decodeURIComponent(listing[3]!)}`)
      const files = commit === undefined ? undefined : commits.get(`${repo}@${commit}`)
      if (files === undefined) return json(res, 404, { error: "Revision Not Found" })
      if (listing[2] === "tree") return json(res, 200, [...files].map(([name, f]) => entry(name, f)))
      let body = ""
      req.on("data", (chunk) => (body += chunk))
      req.on("end", () => {
        const wanted: ReadonlyArray<string> = JSON.parse(body || "{}").paths ?? []
        json(res, 200, wanted.flatMap((name) => (files.has(name) ? [entry(name, files.get(name)!)] : [])))
      })
      return
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path)
    if (resolve !== null) {
      const repo = resolve[1]!
      const commit = refs.get(`${repo}@${decodeURIComponent(resolve[2]!)}`)
      const name = resolve[3]!.split("/").map(decodeURIComponent).join("/")
      const file = commit === undefined ? undefined : commits.get(`${repo}@${commit}`)?.get(name)
      const failure = failures.get(name)
      if (failure !== undefined && failure.times > 0) {
        failure.times -= 1
        return json(res, failure.status, { error: `injected ${failure.status}` })
      }
      if (commit === undefined || file === undefined) return json(res, 404, { error: "Entry not found" })
      const headers = { "x-repo-commit": commit, etag: `"${file.gitBlobId}"` }
      if (!file.lfs) return sendContent(req, res, name, file, headers)
      res.writeHead(302, {
        ...headers,
        "x-linked-etag": `"${file.sha256}"`,
        "x-linked-size": String(file.content.length),
        location: `${cdnUrl}/cdn/${file.sha256}?file=${encodeURIComponent(name)}`
      }).end()
      return
    }
    json(res, 404, { error: "Not found" })
  }

  const handleCdn = (req: IncomingMessage, res: ServerResponse, path: string) => {
    const blob = /^\/cdn\/([0-9a-f]{64})$/.exec(path)
    const file = blob === null ? undefined : blobs.get(blob[1]!)
    if (file === undefined) return json(res, 404, { error: "No such blob" })
    sendContent(req, res, file.name, file, { etag: `"${file.sha256}"` })
  }

  const serve = (origin: "hub" | "cdn") => (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake")
    requests.push({ origin, method: req.method ?? "GET", path: url.pathname, headers: { ...req.headers } })
    if (origin === "hub") handleHub(req, res, url.pathname, url.searchParams)
    else handleCdn(req, res, url.pathname)
  }

  const hubServer = createServer(serve("hub"))
  const cdnServer = createServer(serve("cdn"))
  const url = yield* Effect.acquireRelease(listen(hubServer), () => close(hubServer))
  const cdnUrl = yield* Effect.acquireRelease(listen(cdnServer), () => close(cdnServer))

  const hub: FakeHub = {
    url,
    publish: (repo, contents) => {
      published += 1
      const commit = createHash("sha1").update(`${repo}#${published}`).digest("hex")
      const files = new Map<string, StoredFile>()
      for (const [name, value] of Object.entries(contents.files)) {
        const content = typeof value === "string" ? new TextEncoder().encode(value) : value
        const file = { content, lfs: contents.lfs?.includes(name) ?? false, sha256: sha256(content), gitBlobId: gitBlobId(content) }
        files.set(name, file)
        if (file.lfs) blobs.set(file.sha256, { ...file, name })
      }
      commits.set(`${repo}@${commit}`, files)
      refs.set(`${repo}@${commit}`, commit)
      for (const revision of contents.revisions ?? ["main"]) refs.set(`${repo}@${revision}`, commit)
      return commit
    },
    get requests() {
      return requests
    },
    clearRequests: () => {
      requests.length = 0
    },
    fileRequests: (file, method) =>
      requests.filter((r) =>
        (method === undefined || r.method === method) &&
        (r.path.endsWith(`/${file.split("/").map(encodeURIComponent).join("/")}`) ||
          (r.origin === "cdn" && [...blobs.values()].some((b) => b.name === file && r.path.endsWith(b.sha256))))
      ),
    cutOnce: (file, bytes) => cuts.set(file, { bytes, stall: false }),
    stallOnce: (file, bytes) => cuts.set(file, { bytes, stall: true }),
    corrupt: (file, times = 1) => corruptions.set(file, times),
    failNext: (file, status, times = 1) => failures.set(file, { status, times }),
    requireToken: (value) => {
      token = value
    },
    delayTransfers: (millis) => {
      transferDelay = millis
    },
    maxConcurrentTransfers: () => maxTransfers,
    listBlobs: (on) => {
      blobsListed = on
    }
  }
  return hub
})
