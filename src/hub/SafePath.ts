/**
 * Names that come from the server (file names, revisions, etags) end up as
 * paths on disk. These checks run before anything touches the disk, so a
 * hostile or broken server cannot write outside the cache.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HubError } from "./HubError.ts"

/** Why `name` is not a safe repository-relative path, or undefined if it is. */
export const unsafePathProblem = (name: string): string | undefined => {
  if (name.length === 0) return "it is empty"
  if (name.length > 1024) return "it is longer than 1024 characters"
  if (name.includes("\0")) return "it contains a NUL byte"
  if (name.includes("\\")) return "it contains a backslash"
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) return "it is an absolute path"
  for (const segment of name.split("/")) {
    if (segment === "") return "it has an empty path segment"
    if (segment === "." || segment === "..") return `it has a "${segment}" path segment`
  }
  return undefined
}

/** Fails with an "unsafe-path" HubError unless `name` is a safe relative path. */
export const ensureSafePath = (name: string, what: string, repo: string): Effect.Effect<string, HubError> => {
  const problem = unsafePathProblem(name)
  return problem === undefined
    ? Effect.succeed(name)
    : Effect.fail(
      new HubError({
        reason: "unsafe-path",
        repo,
        message: `Refusing ${what} ${JSON.stringify(name)} from ${repo}: ${problem}.`,
        remediation:
          "The hub returned a name that could escape the cache folder; check HF_ENDPOINT points at a trusted hub and report the repository."
      })
    )
}

/** Fails with an "unsafe-path" HubError unless `name` is usable as one file name (a blob id). */
export const ensureSafeFileName = (name: string, what: string, repo: string): Effect.Effect<string, HubError> =>
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(name)
    ? Effect.succeed(name)
    : Effect.fail(
      new HubError({
        reason: "unsafe-path",
        repo,
        message: `Refusing ${what} ${JSON.stringify(name)} from ${repo}: it is not a plain file name.`,
        remediation: "Check HF_ENDPOINT points at a Hugging Face compatible hub."
      })
    )
