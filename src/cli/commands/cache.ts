/**
 * `bark-pipeline cache verify [--remove]`: re-hashes every file of every
 * graph-cache entry against its manifest (a start checks only sizes and
 * mtimes) and prints one line per entry. `--remove` deletes the entries that
 * do not verify, so the next start converts their checkpoints again. Exit
 * code 1 when an entry does not verify.
 *
 * @since 0.2.0
 */
import { Console, Effect, Path } from "effect"
import { Command, Flag } from "effect/cli"
import * as GraphCache from "../../bark/graphCache.ts"
import * as Settings from "../../bark/settings.ts"
import { CliExit, ExitCode } from "../CliExit.ts"

const verify = Command.make(
  "verify",
  { remove: Flag.Boolean("remove").pipe(Flag.withDescription("delete the entries that do not verify"), Flag.withDefault(false)) },
  ({ remove }) =>
    Effect.gen(function*() {
      const path = yield* Path.Path
      const { dir } = yield* Settings.ownCache
      const cache = yield* GraphCache.make(path.join(dir, "graphs"))
      const keys = yield* cache.keys
      let bad = 0
      for (const key of keys) {
        const reason = yield* cache.verify(key)
        if (reason === undefined) {
          yield* Console.log(`ok    ${key}`)
          continue
        }
        bad++
        if (remove) yield* cache.remove(key)
        yield* Console.log(`FAIL  ${key}: ${reason}${remove ? " (removed)" : ""}`)
      }
      yield* Console.log(`${keys.length - bad} verified, ${bad} failed under ${cache.root}`)
      if (bad > 0) {
        return yield* new CliExit({
          code: ExitCode.fatal,
          message: `${bad} graph-cache ${bad === 1 ? "entry does" : "entries do"} not match ${bad === 1 ? "its" : "their"} manifest`,
          remediation: remove
            ? "they were removed: the next start converts their checkpoints again; check the disk if this recurs"
            : "run `bark-pipeline cache verify --remove` (or just start: a damaged entry whose size or mtime changed is rebuilt), and check the disk"
        })
      }
    })
).pipe(Command.withDescription("re-hash every graph-cache entry against its manifest"))

export const command = Command.make("cache").pipe(
  Command.withDescription("inspect the graph cache (converted models)"),
  Command.withSubcommands([verify])
)
