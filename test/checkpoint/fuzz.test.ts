/**
 * Seeded mutation fuzzing of the decoders: truncations, bit flips and byte
 * overwrites (mostly in headers and pickle opcodes) of valid files. Every
 * outcome must be a decoded value or a CheckpointError: never a defect, never
 * a hang, and never output out of proportion to the input.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import type { CheckpointError } from "../../src/checkpoint/CheckpointError.ts"
import { decodeNpy, encodeNpy } from "../../src/checkpoint/npy.ts"
import { decodeNpz } from "../../src/checkpoint/npz.ts"
import { decode, encode } from "../../src/checkpoint/safetensors.ts"
import { fromFloat32, make, type Tensor } from "../../src/checkpoint/Tensor.ts"
import { loadTorchCheckpoint } from "../../src/checkpoint/torch.ts"
import { readZip } from "../../src/checkpoint/zip.ts"
import { readFixture } from "../support/checkpointFixtures.ts"
import { makeZip } from "../support/checkpointZip.ts"

/** mulberry32: a tiny seeded PRNG, so a failure can be replayed from its seed. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const interesting = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x28, 0x2e, 0x7b, 0x22]

/** One random mutation; `hot` bytes at the start (headers, opcodes) are hit most of the time. */
const mutate = (input: Uint8Array, hot: number, random: () => number): Uint8Array => {
  const position = () => Math.floor(random() * (random() < 0.7 ? Math.min(hot, input.byteLength) : input.byteLength))
  const kind = random()
  if (kind < 0.2) return input.subarray(0, position())
  const out = input.slice()
  const edits = 1 + Math.floor(random() * 4)
  for (let i = 0; i < edits; i++) {
    const at = position()
    if (kind < 0.6) out[at]! ^= 1 << Math.floor(random() * 8)
    else out[at] = random() < 0.5 ? interesting[Math.floor(random() * interesting.length)]! : Math.floor(random() * 256)
  }
  return out
}

const outputBytes = (value: unknown): number => {
  if (value instanceof Map) return [...value.values()].reduce((n: number, t: Tensor) => n + t.data.byteLength, 0)
  if (value !== null && typeof value === "object" && "tensors" in value) return outputBytes(value.tensors)
  if (value !== null && typeof value === "object" && "data" in value) return (value as Tensor).data.byteLength
  return 0
}

const fuzz = (
  name: string,
  input: Uint8Array,
  hot: number,
  cases: number,
  decoder: (bytes: Uint8Array) => Effect.Effect<unknown, CheckpointError>,
  prepare: (mutated: Uint8Array) => Uint8Array = (b) => b
) =>
  it(`${name}: ${cases} mutations decode or fail with a CheckpointError`, () => {
    const random = prng(name.length * 7919)
    const outcomes = { decoded: 0, rejected: 0 }
    for (let i = 0; i < cases; i++) {
      const bytes = prepare(mutate(input, hot, random))
      const exit = Effect.runSyncExit(decoder(bytes))
      if (Exit.isSuccess(exit)) {
        outcomes.decoded++
        expect(outputBytes(exit.value), `case ${i}`).toBeLessThanOrEqual(4 * bytes.byteLength + 1024)
      } else {
        const error = Cause.findErrorOption(exit.cause)
        if (error._tag === "None" || error.value._tag !== "CheckpointError") {
          expect.fail(`case ${i} of ${name} did not fail with a CheckpointError:\n${Cause.pretty(exit.cause)}`)
        }
        outcomes.rejected++
      }
    }
    expect(outcomes.rejected).toBeGreaterThan(0)
  })

describe("decoders under mutation", () => {
  const safetensors = encode(new Map([
    ["a.weight", fromFloat32([2, 3], new Float32Array([1, 2, 3, 4, 5, 6]))],
    ["b.half", make("F16", [4], new Uint8Array(8))],
    ["c.ids", make("I64", [2], new Uint8Array(16))]
  ]), { format: "pt" })
  fuzz("safetensors", safetensors, 200, 2500, (b) => decode(b))

  const npy = encodeNpy(fromFloat32([3, 4], new Float32Array(12).fill(0.5)))
  fuzz("npy", npy, 128, 2000, (b) => decodeNpy(b))

  const npz = makeZip([{ name: "x.npy", data: npy, method: "deflate" }, { name: "y.npy", data: npy }])
  fuzz("npz", npz, npz.byteLength, 1000, (b) => decodeNpz(b))

  const torch = readFixture("state_dict.pt")
  fuzz("torch zip", torch, torch.byteLength, 2000, (b) => loadTorchCheckpoint(b))

  // Mutate only the pickle and re-zip it with a valid CRC, so mutations reach the unpickler.
  const torchEntries = Effect.runSync(readZip(torch))
  const dataPkl = torchEntries.get("state_dict/data.pkl")!
  const rezip = (pickle: Uint8Array) =>
    makeZip([...torchEntries].map(([name, data]) => ({ name, data: name.endsWith("data.pkl") ? pickle : data })))
  fuzz("torch pickle", dataPkl, dataPkl.byteLength, 4000, (b) => loadTorchCheckpoint(b), rezip)
})
