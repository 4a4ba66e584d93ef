/**
 * A child process for the streaming test (test/checkpoint/streaming.test.ts):
 * `node checkpointPeakRss.ts [stream|whole] [path]` opens the checkpoint at
 * `path` and reads every tensor, then prints one JSON line with what it read
 * and the process's peak resident set (VmHWM from /proc/self/status).
 *
 * - `stream`: `openCheckpoint`, one tensor per `read`, each dropped at once;
 *   each tensor's first and last value (as float32) are kept to check contents.
 *   Run with `--expose-gc`, it collects garbage after dropping each tensor:
 *   V8 frees dropped ArrayBuffers only at its next collection, which it puts
 *   off until some 64 to 128 MB more have been allocated, so without it the
 *   peak would include that slack whatever the reader holds. A reader that
 *   kept what it read, or read more than it was asked for, still shows.
 * - `whole`: `loadCheckpoint`, the whole file in memory (the control).
 * - without a path: nothing is opened, giving the baseline of the same script.
 *
 * @since 0.2.0
 */
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { loadCheckpoint } from "../../src/checkpoint/load.ts"
import { openCheckpoint } from "../../src/checkpoint/reader.ts"
import type { Tensor } from "../../src/checkpoint/Tensor.ts"

export interface PeakRssReport {
  readonly tensors: number
  readonly bytes: number
  /** Each tensor's first and last element as float32, by name (stream mode only). */
  readonly ends: Record<string, readonly [number, number]>
  /** VmHWM in bytes. */
  readonly peakRss: number
}

const ends = (tensor: Tensor): readonly [number, number] => {
  const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength)
  return [view.getFloat32(0, true), view.getFloat32(tensor.data.byteLength - 4, true)]
}

const [mode, path] = process.argv.slice(2)
const collectGarbage = (globalThis as { gc?: () => void }).gc

const program = Effect.gen(function*() {
  const report = { tensors: 0, bytes: 0, ends: {} as Record<string, readonly [number, number]> }
  if (path === undefined) return report
  if (mode === "whole") {
    const { tensors } = yield* loadCheckpoint(path)
    for (const tensor of tensors.values()) {
      report.tensors++
      report.bytes += tensor.data.byteLength
    }
    return report
  }
  const reader = yield* openCheckpoint(path)
  for (const name of reader.tensors.keys()) {
    const tensor = (yield* reader.read([name])).get(name)!
    report.tensors++
    report.bytes += tensor.data.byteLength
    report.ends[name] = ends(tensor)
    collectGarbage?.()
  }
  return report
}).pipe(Effect.scoped, Effect.provide(NodeServices.layer))

const report = await Effect.runPromise(program)
const peakKb = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1])
console.log(JSON.stringify({ ...report, peakRss: peakKb * 1024 } satisfies PeakRssReport))
