/**
 * `bark-pipeline parity <case-dir> --out <dir> [--compare]`: runs this
 * library on a golden case folder (see ../shared/fixtures/golden) and writes
 * every output the reference wrote, under the same names; with `--compare`,
 * checks each against the golden file by compare.py's rules and exits 1 on
 * any failure.
 *
 * @since 0.1.0
 */
import { Console, Effect, FileSystem } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { compareWithGolden, type ParityResult, writeParityOutputs } from "../../dev/parity.ts"
import { InferenceBackend } from "../../onnx/InferenceBackend.ts"
import { CliExit, ExitCode, usage } from "../CliExit.ts"

const number = (x: number) => (Number.isNaN(x) ? "-" : x.toExponential(2))

export const formatResult = (r: ParityResult): string =>
  `${r.status === "pass" ? "PASS" : "FAIL"}  ${r.file.padEnd(36)} max abs ${number(r.maxAbs)}  max rel ${number(r.maxRel)}  (${r.note})`

/** Any failure of the run as a CLI exit with something to do about it. */
const fatal = (e: { readonly message: string; readonly remediation?: string }) =>
  new CliExit({
    code: ExitCode.fatal,
    message: `parity run failed: ${e.message}`,
    remediation: e.remediation ?? "check that the case folder is complete and readable and that --out is writable"
  })

export const command = Command.make(
  "parity",
  {
    caseDir: Argument.String("case-dir").pipe(
      Argument.withDescription("a golden case folder: config.json, model.safetensors, the input .npy files, generation_info.json")
    ),
    out: Flag.String("out").pipe(Flag.withDescription("folder to write the outputs into (created if missing)")),
    compare: Flag.Boolean("compare").pipe(
      Flag.withDescription("compare every output with the golden file of the same name; exit 1 on any failure"),
      Flag.withDefault(false)
    )
  },
  ({ caseDir, out, compare }) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      if (!(yield* fs.exists(caseDir))) {
        return yield* usage(`no case folder at ${caseDir}`, "pass a golden case folder, e.g. ../shared/fixtures/golden/v1_small_mixed")
      }
      const { files, notes } = yield* writeParityOutputs(caseDir, out).pipe(Effect.mapError(fatal))
      for (const note of notes) yield* Console.error(`note: ${note}`)
      yield* Console.error(`wrote ${files.length} files to ${out}`)
      if (!compare) return

      const results = yield* compareWithGolden(caseDir, out).pipe(Effect.mapError(fatal))
      for (const r of results) yield* Console.log(formatResult(r))
      const failed = results.filter((r) => r.status !== "pass").length
      yield* Console.log(`${results.length - failed} passed, ${failed} failed`)
      if (failed > 0) {
        return yield* new CliExit({
          code: ExitCode.fatal,
          message: `${failed} of ${results.length} outputs differ from the reference`,
          remediation: "see the FAIL lines above; a missing file means this build does not write that output yet"
        })
      }
    }).pipe(Effect.provide(InferenceBackend.Cpu))
).pipe(Command.withDescription("write a golden case's outputs with this library and optionally compare them with the reference"))
