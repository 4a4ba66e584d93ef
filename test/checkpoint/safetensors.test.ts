import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { CheckpointErrorReason } from "../../src/checkpoint/CheckpointError.ts"
import { decode, encode, maxHeaderBytes } from "../../src/checkpoint/safetensors.ts"
import { bytesPerElement, fromFloat32, make, type Tensor, toNumbers } from "../../src/checkpoint/Tensor.ts"
import { readGolden } from "../support/checkpointFixtures.ts"

/** A safetensors file from a header (a value, raw text or raw bytes) and a data section. */
const craft = (header: unknown, data: Uint8Array = new Uint8Array(0), declaredLength?: number): Uint8Array => {
  const json = header instanceof Uint8Array
    ? header
    : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header))
  const out = new Uint8Array(8 + json.byteLength + data.byteLength)
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.byteLength), true)
  out.set(json, 8)
  out.set(data, 8 + json.byteLength)
  return out
}

const f32 = (begin: number, end: number, shape: ReadonlyArray<number> = [(end - begin) / 4]) => ({
  dtype: "F32",
  shape,
  data_offsets: [begin, end]
})

describe("safetensors.decode", () => {
  it.effect("reads the golden checkpoint as views into the file", () =>
    Effect.gen(function*() {
      const bytes = readGolden("model.safetensors")
      const { tensors } = yield* decode(bytes, "model.safetensors")
      expect(tensors.size).toBe(222)
      const f16 = [...tensors].filter(([, t]) => t.dtype === "F16").map(([name]) => name)
      expect(f16).toHaveLength(17)
      expect(f16).toContain("semantic.input_embeds_layer.weight")
      expect(f16.every((n) => /codebook\.embed(_avg)?$|^semantic\.input_embeds_layer\.weight$/.test(n))).toBe(true)
      for (const tensor of tensors.values()) expect(tensor.data.buffer).toBe(bytes.buffer)
    }))

  it.effect("round-trips through encode, keeping metadata and aligning every tensor", () =>
    Effect.gen(function*() {
      const weights = new Map<string, Tensor>([
        ["b.half", make("F16", [3], new Uint8Array([0, 60, 0, 64, 0, 0xc0]))],
        ["a.float", fromFloat32([2, 2], new Float32Array([1, -2, 3.5, 4]))],
        ["c.mask", make("BOOL", [3], new Uint8Array([1, 0, 1]))],
        ["d.ids", make("I64", [2], new Uint8Array(new BigInt64Array([7n, -9n]).buffer))],
        ["e.empty", make("F32", [0, 4], new Uint8Array(0))]
      ])
      const bytes = encode(weights, { format: "pt" })
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true))
      expect(headerLength % 8).toBe(0)
      const decoded = yield* decode(bytes)
      expect(decoded.metadata).toEqual({ format: "pt" })
      expect(new Set(decoded.tensors.keys())).toEqual(new Set(weights.keys()))
      for (const [name, tensor] of weights) {
        const back = decoded.tensors.get(name)!
        expect(back.dtype).toBe(tensor.dtype)
        expect(back.shape).toEqual(tensor.shape)
        expect(toNumbers(back)).toEqual(toNumbers(tensor))
        expect((back.data.byteOffset - 8 - headerLength) % bytesPerElement(back.dtype)).toBe(0)
      }
    }))

  const rejects: ReadonlyArray<readonly [string, Uint8Array, CheckpointErrorReason]> = [
    ["fewer than 8 bytes", new Uint8Array(5), "truncated"],
    ["a header longer than the file", craft({}, new Uint8Array(0), 1000), "truncated"],
    ["a header over the size limit", craft({}, new Uint8Array(0), maxHeaderBytes + 1), "header"],
    ["a header that is not JSON", craft('{"t": {"dtype": '), "header"],
    ["a header that is a JSON array", craft([1, 2]), "header"],
    ["a header that is not UTF-8", craft(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), "header"],
    ["an unknown dtype", craft({ t: { dtype: "C64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), "dtype"],
    ["a negative dimension", craft({ t: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), "header"],
    ["a fractional offset", craft({ t: { dtype: "U8", shape: [1], data_offsets: [0.5, 1] } }, new Uint8Array(1)), "header"],
    ["a range past the data", craft({ t: f32(0, 16) }, new Uint8Array(8)), "bounds"],
    ["a reversed range", craft({ t: f32(8, 4, [1]) }, new Uint8Array(8)), "bounds"],
    ["a shape that disagrees with the range", craft({ t: f32(0, 8, [3]) }, new Uint8Array(8)), "bounds"],
    ["overlapping ranges", craft({ a: f32(0, 8), b: f32(4, 12) }, new Uint8Array(12)), "overlap"],
    ["a gap between ranges", craft({ a: f32(0, 4), b: f32(8, 12) }, new Uint8Array(12)), "overlap"],
    ["data no tensor covers", craft({ a: f32(0, 4) }, new Uint8Array(12)), "overlap"],
    ["non-string metadata", craft({ __metadata__: { n: 1 } }), "header"]
  ]

  it.effect.each(rejects)("rejects %s", ([, bytes, reason]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decode(bytes, "bad.safetensors"))
      expect(error._tag).toBe("CheckpointError")
      expect(error.reason).toBe(reason)
      expect(error.file).toBe("bad.safetensors")
      expect(error.remediation.length).toBeGreaterThan(0)
    }))
})
