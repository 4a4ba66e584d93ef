/**
 * Repository ids (`org/name`, or a legacy bare `name`), revisions, and telling
 * a hub repository from a local model directory.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem } from "effect"
import { HubError } from "./HubError.ts"
import { unsafePathProblem } from "./SafePath.ts"

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/

/** Whether `id` is a well-formed hub repository id. */
export const isRepoId = (id: string): boolean => {
  const parts = id.split("/")
  return parts.length <= 2 &&
    parts.every((part) => SEGMENT.test(part) && !part.includes("--") && !part.includes("..") && !part.endsWith("."))
}

export const ensureRepoId = (id: string): Effect.Effect<string, HubError> =>
  isRepoId(id)
    ? Effect.succeed(id)
    : Effect.fail(
      new HubError({
        reason: "invalid-repo",
        message: `${JSON.stringify(id)} is neither a hub repository id nor an existing directory.`,
        remediation:
          "Pass a repository id like \"suno/bark-small\" (letters, digits, '.', '_', '-'), or the path of a local model directory."
      })
    )

/** A full 40-hex commit hash, which needs no resolving. */
export const isCommitHash = (revision: string): boolean => /^[0-9a-f]{40}$/.test(revision)

/** A revision as it appears in hub URLs: `refs/pr/5` → `refs%2Fpr%2F5`. */
export const encodeRevision = (revision: string): string => encodeURIComponent(revision)

/** Revisions are written under `refs/` in the cache, so they must be safe relative paths. */
export const ensureRevision = (revision: string, repo: string): Effect.Effect<string, HubError> => {
  const problem = unsafePathProblem(revision)
  return problem === undefined
    ? Effect.succeed(revision)
    : Effect.fail(
      new HubError({
        reason: "invalid-repo",
        repo,
        message: `Revision ${JSON.stringify(revision)} of ${repo} is not usable: ${problem}.`,
        remediation: "Pass a branch, a tag, a 40-hex commit or refs/pr/N."
      })
    )
}

export type ModelSource =
  | { readonly _tag: "LocalDir"; readonly dir: string }
  | { readonly _tag: "HubRepo"; readonly repo: string }

/**
 * A model given as an existing directory is used as is and skips the hub;
 * anything else must be a repository id.
 */
export const resolveModelSource = Effect.fn("resolveModelSource")(function*(model: string) {
  const fs = yield* FileSystem.FileSystem
  const info = yield* fs.stat(model).pipe(Effect.option)
  const source: ModelSource = info._tag === "Some" && info.value.type === "Directory"
    ? { _tag: "LocalDir", dir: model }
    : { _tag: "HubRepo", repo: yield* ensureRepoId(model) }
  return source
})
