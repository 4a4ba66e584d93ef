/**
 * The hub's HTTP API, as far as downloading needs it: resolving a revision to a
 * commit with its file listing, a file's metadata, and a file's bytes from a
 * given offset. Every failure becomes a HubError; the token is only ever sent
 * to the endpoint's own origin (redirects to a CDN drop it).
 *
 * @since 0.1.0
 */
import { Effect, Option, Redacted, Schema, Stream } from "effect"
import { HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "effect/http"
import type { HubSettings } from "./HubConfig.ts"
import { HubError } from "./HubError.ts"
import { encodeRevision } from "./RepoId.ts"
import type { RetryPolicy } from "./RetryPolicy.ts"

export const LfsInfo = Schema.Struct({ sha256: Schema.String, size: Schema.Number })

/** One file of a repository at a commit, as the revision endpoint lists it. */
export const Sibling = Schema.Struct({
  rfilename: Schema.String,
  size: Schema.optionalKey(Schema.Number),
  /** The git blob id (with `?blobs=true`). */
  blobId: Schema.optionalKey(Schema.String),
  lfs: Schema.optionalKey(LfsInfo)
})
export type Sibling = typeof Sibling.Type

export const RevisionInfo = Schema.Struct({
  sha: Schema.String.check(Schema.isPattern(/^[0-9a-f]{40}$/)),
  siblings: Schema.Array(Sibling).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
})
export type RevisionInfo = typeof RevisionInfo.Type

/** What a HEAD on a file's resolve URL says about it. */
export interface FileMetadata {
  /** The blob name: X-Linked-Etag (the sha256) for LFS files, else the ETag (the git blob id). */
  readonly etag: string
  readonly size: number | undefined
}

/** Where a request was aimed, for error messages. */
interface Target {
  readonly repo: string
  readonly revision: string
  readonly file?: string
}

/** Revision listings are small; a body beyond this is not a hub answer. */
const MAX_JSON_BYTES = 32 * 1024 * 1024

const describe = (target: Target) =>
  target.file === undefined
    ? `${target.repo} at revision ${target.revision}`
    : `${target.file} in ${target.repo} at revision ${target.revision}`

const networkError = (target: Target, detail: string) =>
  new HubError({
    reason: "network",
    repo: target.repo,
    ...(target.file === undefined ? {} : { file: target.file }),
    message: `Could not fetch ${describe(target)}: ${detail}.`,
    remediation:
      "Check the network connection and HF_ENDPOINT, then retry (a partial download is kept and resumed); set HF_HUB_OFFLINE=1 to use only cached files."
  })

const statusError = (target: Target, status: number) => {
  const where = { repo: target.repo, status, ...(target.file === undefined ? {} : { file: target.file }) }
  if (status === 401 || status === 403) {
    return new HubError({
      ...where,
      reason: "unauthorized",
      message: `The hub refused access to ${describe(target)} (HTTP ${status}).`,
      remediation:
        `Set HF_TOKEN to an access token that can read ${target.repo}, and accept the model's licence on its hub page if it is gated.`
    })
  }
  if (status === 404) {
    return new HubError({
      ...where,
      reason: "not-found",
      message: `${describe(target)} was not found on the hub (HTTP 404).`,
      remediation:
        "Check the repository id, the revision and the file name; private repositories also need HF_TOKEN."
    })
  }
  if (status >= 500) return networkError(target, `the hub answered HTTP ${status}`)
  return new HubError({
    ...where,
    reason: "invalid-response",
    message: `The hub answered HTTP ${status} for ${describe(target)}.`,
    remediation: "Check that HF_ENDPOINT points at a Hugging Face compatible hub."
  })
}

const invalidResponse = (target: Target, detail: string) =>
  new HubError({
    reason: "invalid-response",
    repo: target.repo,
    message: `The hub's answer for ${describe(target)} is not usable: ${detail}.`,
    remediation: "Check that HF_ENDPOINT points at a Hugging Face compatible hub."
  })

/** Drops the quotes and weak marker the hub puts around etags. */
const normalizeEtag = (etag: string | undefined) => etag?.replace(/^W\//, "").replace(/^"|"$/g, "")

const sizeHeader = (value: string | undefined) => {
  const n = value === undefined ? Number.NaN : Number(value)
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

export interface HubApi {
  readonly revisionInfo: (repo: string, revision: string) => Effect.Effect<RevisionInfo, HubError>
  readonly fileMetadata: (repo: string, commit: string, file: string) => Effect.Effect<FileMetadata, HubError>
  /**
   * Opens a file's bytes from `offset` (a Range request when > 0). `offset` is
   * the position the body really starts at: 0 when the server ignored the range.
   */
  readonly openFile: (
    repo: string,
    commit: string,
    file: string,
    offset: number
  ) => Effect.Effect<{ readonly offset: number; readonly body: Stream.Stream<Uint8Array, HubError> }, HubError>
}

export const makeHubApi = Effect.fn("makeHubApi")(function*(settings: HubSettings, policy: RetryPolicy) {
  const origin = new URL(settings.endpoint).origin
  const authorize = (request: HttpClientRequest.HttpClientRequest) =>
    Option.match(settings.token, {
      onNone: () => request,
      onSome: (token) =>
        new URL(request.url).origin === origin
          ? HttpClientRequest.bearerToken(request, Redacted.value(token))
          : request
    })
  const base = (yield* HttpClient.HttpClient).pipe(HttpClient.mapRequest(authorize))
  const following = base.pipe(HttpClient.followRedirects(10))

  const send = (
    client: HttpClient.HttpClient,
    request: HttpClientRequest.HttpClientRequest,
    target: Target
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, HubError> =>
    client.execute(request).pipe(
      Effect.mapError((e: HttpClientError.HttpClientError) => networkError(target, e.message)),
      Effect.timeoutOrElse({
        duration: policy.requestTimeout,
        orElse: () => Effect.fail(networkError(target, "no response in time"))
      })
    )

  const body = (response: HttpClientResponse.HttpClientResponse, target: Target) =>
    response.stream.pipe(
      Stream.mapError((e) => networkError(target, `the transfer broke off: ${e.message}`)),
      Stream.timeoutOrElse({
        duration: policy.idleTimeout,
        orElse: () => Stream.fail(networkError(target, "the transfer stalled"))
      })
    )

  const resolveUrl = (repo: string, commit: string, file: string) =>
    `${settings.endpoint}/${repo}/resolve/${commit}/${file.split("/").map(encodeURIComponent).join("/")}`

  const revisionInfo = Effect.fn("HubApi.revisionInfo")(function*(repo: string, revision: string) {
    const target = { repo, revision }
    const url = `${settings.endpoint}/api/models/${repo}/revision/${encodeRevision(revision)}?blobs=true`
    const response = yield* send(following, HttpClientRequest.get(url), target)
    if (response.status !== 200) return yield* statusError(target, response.status)
    const chunks: Array<Uint8Array> = []
    let total = 0
    yield* body(response, target).pipe(
      Stream.runForEach((chunk) => {
        total += chunk.length
        if (total > MAX_JSON_BYTES) return Effect.fail(invalidResponse(target, "the listing is too large"))
        chunks.push(chunk)
        return Effect.void
      })
    )
    const text = Buffer.concat(chunks).toString("utf8")
    return yield* Schema.decodeUnknownEffect(Schema.fromJsonString(RevisionInfo))(text).pipe(
      Effect.mapError((e) => invalidResponse(target, e.message))
    )
  })

  const fileMetadata = Effect.fn("HubApi.fileMetadata")(function*(repo: string, commit: string, file: string) {
    const target = { repo, revision: commit, file }
    // Not following redirects: the hub's own answer carries the LFS headers, the CDN's does not.
    const response = yield* send(base, HttpClientRequest.head(resolveUrl(repo, commit, file)), target)
    if (response.status >= 400) return yield* statusError(target, response.status)
    const h = response.headers
    const etag = normalizeEtag(h["x-linked-etag"] ?? h["etag"])
    if (etag === undefined || etag === "") return yield* invalidResponse(target, "no ETag header")
    const metadata: FileMetadata = {
      etag,
      size: sizeHeader(h["x-linked-size"] ?? h["content-length"])
    }
    return metadata
  })

  const openFile = Effect.fn("HubApi.openFile")(function*(repo: string, commit: string, file: string, offset: number) {
    const target = { repo, revision: commit, file }
    const request = HttpClientRequest.get(resolveUrl(repo, commit, file)).pipe(
      offset > 0 ? HttpClientRequest.setHeader("range", `bytes=${offset}-`) : (r) => r
    )
    const response = yield* send(following, request, target)
    if (response.status === 206 && offset > 0) return { offset, body: body(response, target) }
    if (response.status === 200) return { offset: 0, body: body(response, target) }
    return yield* statusError(target, response.status)
  })

  const api: HubApi = { revisionInfo, fileMetadata, openFile }
  return api
})
