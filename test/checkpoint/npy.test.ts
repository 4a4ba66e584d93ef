import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { CheckpointErrorReason } from "../../src/checkpoint/CheckpointError.ts"
import { decodeNpy, encodeNpy } from "../../src/checkpoint/npy.ts"
import { decodeNpz } from "../../src/checkpoint/npz.ts"
import { type DType, fromFloat32, make, type Tensor, toNumbers } from "../../src/checkpoint/Tensor.ts"
import { readGolden } from "../support/checkpointFixtures.ts"
import { makeZip } from "../support/checkpointZip.ts"

/** An .npy file with a hand-written header dict (padded like numpy's) and raw data. */
const npy = (dict: string, data: ArrayLike<number> = [], version = 1): Uint8Array => {
  const prefix = version === 1 ? 10 : 12
  const length = Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix
  const out = new Uint8Array(prefix + length + data.length)
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0])
  const view = new DataView(out.buffer)
  if (version === 1) view.setUint16(8, length, true)
  else view.setUint32(8, length, true)
  out.set(new TextEncoder().encode(dict.padEnd(length - 1, " ") + "\n"), prefix)
  out.set(data, prefix + length)
  return out
}

const header = (descr: string, shape: string, fortran = false) =>
  `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': ${shape}, }`

const bytesOf = (array: { readonly buffer: ArrayBufferLike }) => new Uint8Array(array.buffer)

describe("decodeNpy", () => {
  it.effect("reads numpy's own files, and encodeNpy writes them byte for byte", () =>
    Effect.gen(function*() {
      const expected = { semantic: ["I64", [341]], coarse: ["I64", [2, 512]], fine: ["I32", [8, 512]] } as const
      for (const [name, [dtype, shape]] of Object.entries(expected)) {
        const bytes = readGolden(`speaker_embeddings/golden_speaker_${name}_prompt.npy`)
        const tensor = yield* decodeNpy(bytes)
        expect(tensor.dtype).toBe(dtype)
        expect(tensor.shape).toEqual(shape)
        expect(tensor.data.buffer).toBe(bytes.buffer) // no conversion needed: a view
        expect(encodeNpy(tensor)).toEqual(bytes)
      }
    }))

  it.effect("transposes Fortran-order data into C order", () =>
    Effect.gen(function*() {
      // [[1, 2, 3], [4, 5, 6]] stored column by column
      const matrix = yield* decodeNpy(npy(header("<i4", "(2, 3)", true), bytesOf(new Int32Array([1, 4, 2, 5, 3, 6]))))
      expect(matrix.shape).toEqual([2, 3])
      expect(toNumbers(matrix)).toEqual([1, 2, 3, 4, 5, 6])
      // a[i][j][k] = 100i + 10j + k, shape (2, 2, 3), Fortran order: i varies fastest
      const fortran: Array<number> = []
      for (let k = 0; k < 3; k++) for (let j = 0; j < 2; j++) for (let i = 0; i < 2; i++) fortran.push(100 * i + 10 * j + k)
      const cube = yield* decodeNpy(npy(header("<i2", "(2, 2, 3)", true), bytesOf(new Int16Array(fortran))))
      expect(toNumbers(cube)).toEqual([0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112])
    }))

  it.effect("swaps big-endian data to little-endian", () =>
    Effect.gen(function*() {
      const u16 = yield* decodeNpy(npy(header(">u2", "(2,)"), [0x01, 0x02, 0xff, 0xfe]))
      expect(u16.dtype).toBe("U16")
      expect(toNumbers(u16)).toEqual([0x0102, 0xfffe])
      const be = new DataView(new ArrayBuffer(16))
      be.setFloat32(0, 1.5, false)
      be.setFloat32(4, -2.25, false)
      be.setBigInt64(8, -3n, false)
      const f32 = yield* decodeNpy(npy(header(">f4", "(2,)"), new Uint8Array(be.buffer, 0, 8)))
      expect(toNumbers(f32)).toEqual([1.5, -2.25])
      const i64 = yield* decodeNpy(npy(header(">i8", "()"), new Uint8Array(be.buffer, 8, 8)))
      expect(i64.shape).toEqual([])
      expect(toNumbers(i64)).toEqual([-3])
    }))

  it.effect("reads version 2 and 3 headers", () =>
    Effect.gen(function*() {
      for (const version of [2, 3]) {
        const tensor = yield* decodeNpy(npy(header("|u1", "(3,)"), [7, 8, 9], version))
        expect(toNumbers(tensor)).toEqual([7, 8, 9])
      }
    }))

  it.effect("round-trips every dtype through encodeNpy; BF16 is written as exact float32", () =>
    Effect.gen(function*() {
      const samples: ReadonlyArray<readonly [DType, Uint8Array]> = [
        ["F64", bytesOf(new Float64Array([1.25, -3]))],
        ["F32", bytesOf(new Float32Array([0.5, 2]))],
        ["F16", bytesOf(new Uint16Array([0x3c00, 0xc000]))],
        ["I64", bytesOf(new BigInt64Array([-5n, 6n]))],
        ["I32", bytesOf(new Int32Array([-7, 8]))],
        ["I16", bytesOf(new Int16Array([-9, 10]))],
        ["I8", bytesOf(new Int8Array([-11, 12]))],
        ["U16", bytesOf(new Uint16Array([13, 65535]))],
        ["U8", new Uint8Array([14, 255])],
        ["BOOL", new Uint8Array([1, 0])]
      ]
      for (const [dtype, data] of samples) {
        const tensor = make(dtype, [2], data)
        const back = yield* decodeNpy(encodeNpy(tensor))
        expect(back.dtype).toBe(dtype)
        expect(toNumbers(back)).toEqual(toNumbers(tensor))
      }
      const bf16: Tensor = make("BF16", [1, 2], bytesOf(new Uint16Array([0x3fc0, 0xc040])))
      const widened = yield* decodeNpy(encodeNpy(bf16))
      expect(widened.dtype).toBe("F32")
      expect(widened.shape).toEqual([1, 2])
      expect(toNumbers(widened)).toEqual([1.5, -3])
    }))

  const rejects: ReadonlyArray<readonly [string, Uint8Array, CheckpointErrorReason]> = [
    ["a missing magic", new TextEncoder().encode("NUMPY not really"), "header"],
    ["format version 4", npy(header("<f4", "(1,)"), [0, 0, 0, 0], 4), "unsupported"],
    ["an object array", npy(header("|O", "(1,)"), new Uint8Array(8)), "dtype"],
    ["complex numbers", npy(header("<c8", "(1,)"), new Uint8Array(8)), "dtype"],
    ["a structured dtype", npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)), "unsupported"],
    ["too little data", npy(header("<f4", "(2,)"), new Uint8Array(4)), "truncated"],
    ["trailing data", npy(header("<f4", "(1,)"), new Uint8Array(8)), "bounds"],
    ["a negative dimension", npy(header("<f4", "(-1,)")), "header"],
    ["a header that is not a dict", npy("('descr', '<f4')"), "header"],
    ["an unterminated dict", npy("{'descr': '<f4', "), "header"],
    ["a Python expression", npy("{'descr': __import__('os'), 'fortran_order': False, 'shape': (), }"), "header"],
    ["a header longer than the file", npy(header("<f4", "(1,)")).subarray(0, 40), "truncated"]
  ]

  it.effect.each(rejects)("rejects %s", ([, bytes, reason]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decodeNpy(bytes, "bad.npy"))
      expect(error.reason).toBe(reason)
      expect(error.file).toBe("bad.npy")
    }))
})

describe("decodeNpz", () => {
  it.effect("reads suno's voice prompt format, matching the same arrays saved as .npy", () =>
    Effect.gen(function*() {
      const voice = yield* decodeNpz(readGolden("voice_prompt.npz"))
      expect([...voice.keys()]).toEqual(["semantic_prompt", "coarse_prompt", "fine_prompt"])
      for (const part of ["semantic", "coarse", "fine"]) {
        const single = yield* decodeNpy(readGolden(`speaker_embeddings/golden_speaker_${part}_prompt.npy`))
        const fromNpz = voice.get(`${part}_prompt`)!
        expect(fromNpz.dtype).toBe(single.dtype)
        expect(fromNpz.shape).toEqual(single.shape)
        expect(fromNpz.data).toEqual(single.data)
      }
    }))

  it.effect("reads deflate-compressed archives (np.savez_compressed)", () =>
    Effect.gen(function*() {
      const a = fromFloat32([2, 2], new Float32Array([1, 2, 3, 4]))
      const b = make("I64", [3], bytesOf(new BigInt64Array([5n, 6n, 7n])))
      const archive = makeZip([
        { name: "a.npy", data: encodeNpy(a), method: "deflate" },
        { name: "b.npy", data: encodeNpy(b), method: "deflate" }
      ])
      const arrays = yield* decodeNpz(archive)
      expect(toNumbers(arrays.get("a")!)).toEqual([1, 2, 3, 4])
      expect(toNumbers(arrays.get("b")!)).toEqual([5, 6, 7])
    }))

  it.effect("names the member in errors", () =>
    Effect.gen(function*() {
      const archive = makeZip([{ name: "bad.npy", data: new Uint8Array([1, 2, 3]) }])
      const error = yield* Effect.flip(decodeNpz(archive, "voice.npz"))
      expect(error.file).toBe("voice.npz:bad.npy")
    }))
})
