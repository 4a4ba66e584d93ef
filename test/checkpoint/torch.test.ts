import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync } from "node:fs"
import type { CheckpointErrorReason } from "../../src/checkpoint/CheckpointError.ts"
import { decodeNpz } from "../../src/checkpoint/npz.ts"
import { type DType, toFloat32, toNumbers } from "../../src/checkpoint/Tensor.ts"
import { loadTorchCheckpoint } from "../../src/checkpoint/torch.ts"
import { readFixture } from "../support/checkpointFixtures.ts"
import { op, pickle, tensorPickle, torchZip } from "../support/checkpointPickle.ts"
import { makeZip } from "../support/checkpointZip.ts"

/** The dtypes make_fixtures.py gives each tensor of state_dict.pt. */
const stateDictDtypes: Record<string, DType> = {
  "linear.weight": "F32", "linear.bias": "F32", f32: "F32", f16: "F16", bf16: "BF16", i64: "I64", mask: "BOOL",
  param: "F32", scalar: "F32", empty: "F32", "tied.a": "F32", "tied.b": "F32", "tied.rows": "F32",
  transposed: "F32", column: "F32"
}

/** list_0 = [], list_i = [list_(i-1), list_(i-1)]: a few bytes that expand to 2^levels values. */
const billionLaughs = (levels: number) =>
  pickle(
    op.PROTO2, op.EMPTY_LIST, 0x71, 0,
    Array.from({ length: levels }, (_, i) => [op.MARK, 0x68, i, 0x68, i, 0x6c, 0x71, i + 1]),
    op.STOP
  )

const floats = (n: number) => new Uint8Array(new Float32Array(Array.from({ length: n }, (_, i) => i)).buffer)

describe("loadTorchCheckpoint", () => {
  it.effect.each(["state_dict.pt", "state_dict_p4.pt"])("loads every tensor of %s exactly as torch saved it", (name) =>
    Effect.gen(function*() {
      const bytes = readFixture(name)
      const { tensors, extra } = yield* loadTorchCheckpoint(bytes, { file: name })
      const expected = yield* decodeNpz(readFixture("state_dict_expected.npz"))
      expect(new Set(tensors.keys())).toEqual(new Set(Object.keys(stateDictDtypes)))
      expect(extra).toEqual({})
      for (const [key, tensor] of tensors) {
        const want = expected.get(key)!
        expect(tensor.dtype).toBe(stateDictDtypes[key])
        expect(tensor.shape).toEqual(want.shape)
        if (tensor.dtype === "BF16") expect(toFloat32(tensor)).toEqual(toFloat32(want))
        else expect(toNumbers(tensor)).toEqual(toNumbers(want))
      }
    }))

  it.effect("keeps shared storages shared and copies only strided views", () =>
    Effect.gen(function*() {
      const bytes = readFixture("state_dict.pt")
      const { tensors } = yield* loadTorchCheckpoint(bytes)
      const a = tensors.get("tied.a")!
      const b = tensors.get("tied.b")!
      const rows = tensors.get("tied.rows")!
      expect(a.data.buffer).toBe(bytes.buffer)
      expect(b.data).toBe(a.data)
      expect(rows.data.buffer).toBe(bytes.buffer)
      expect(rows.data.byteOffset).toBe(a.data.byteOffset + 3 * 4) // base[1:3] starts one row (3 floats) in
      expect(tensors.get("transposed")!.data.buffer).not.toBe(bytes.buffer)
      expect(tensors.get("column")!.data.buffer).not.toBe(bytes.buffer)
    }))

  it.effect("loads suno's checkpoint layout: nested tensors plus model_args and a NumPy scalar", () =>
    Effect.gen(function*() {
      const { tensors, extra } = yield* loadTorchCheckpoint(readFixture("suno_style.pt"))
      const expected = yield* decodeNpz(readFixture("suno_style_expected.npz"))
      expect([...tensors.keys()]).toEqual(["model.transformer.wte.weight", "model.lm_head.weight"])
      for (const [key, want] of expected) expect(tensors.get(`model.${key}`)!.data).toEqual(want.data)
      expect(extra).toEqual({
        model_args: {
          n_layer: 2, n_head: 2, n_embd: 4, block_size: 1024, bias: false,
          dropout: 0, input_vocab_size: 8, output_vocab_size: 6
        },
        iter_num: 1234,
        best_val_loss: 1.25,
        config: { batch_size: 8, betas: [0.9, 0.95], shape: [2, 3] }
      })
    }))

  it.effect.each([
    ["evil_os_system.pt", "os.system"],
    ["evil_eval.pt", "builtins.eval"],
    ["evil_popen.pt", "subprocess.Popen"]
  ] as const)("refuses %s (%s) without executing anything", ([name, qualified]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(loadTorchCheckpoint(readFixture(name), { file: name }))
      expect(error.reason).toBe("disallowed-global")
      expect(error.message).toContain(qualified)
      expect(existsSync("pwned")).toBe(false)
    }))

  it.effect("loads an explicitly allowed global as inert data, never calling it", () =>
    Effect.gen(function*() {
      const { extra } = yield* loadTorchCheckpoint(readFixture("evil_os_system.pt"), {
        allow: [{ module: "os", name: "system" }]
      })
      expect(extra[""]).toEqual({ __class__: "os.system", args: ["touch pwned"], state: undefined })
      expect(existsSync("pwned")).toBe(false)
    }))

  it.effect("maps an allowed global through the caller's constructor", () =>
    Effect.gen(function*() {
      const { tensors, extra } = yield* loadTorchCheckpoint(readFixture("evil_popen.pt"), {
        allow: [{ module: "subprocess", name: "Popen", construct: (args) => ({ refused: args[0] }) }]
      })
      expect(toNumbers(tensors.get("ok")!)).toEqual([1, 1])
      expect(extra.payload).toEqual({ refused: ["touch", "pwned"] })
    }))

  const rejects: ReadonlyArray<readonly [string, Uint8Array, CheckpointErrorReason]> = [
    ["a tensor reaching past its storage", torchZip(tensorPickle({ numel: 4, offset: 2, size: [3], stride: [1] }), { 0: floats(4) }), "bounds"],
    ["a storage of the wrong size", torchZip(tensorPickle({ numel: 8, size: [4], stride: [1] }), { 0: floats(4) }), "bounds"],
    ["a missing storage record", torchZip(tensorPickle({ numel: 4, key: "7", size: [4], stride: [1] }), { 0: floats(4) }), "zip"],
    ["an expanded view larger than the file", torchZip(tensorPickle({ numel: 1, size: [1_000_000_000], stride: [0] }), { 0: floats(1) }), "bounds"],
    ["an unknown storage type", torchZip(tensorPickle({ storageType: "ComplexFloatStorage", numel: 1, size: [1], stride: [1] }), { 0: floats(2) }), "disallowed-global"],
    ["mismatched sizes and strides", torchZip(tensorPickle({ numel: 4, size: [2, 2], stride: [1] }), { 0: floats(4) }), "pickle"],
    ["a zip without data.pkl", makeZip([{ name: "a.npy", data: floats(1) }]), "unsupported"],
    ["an empty pickle", torchZip(new Uint8Array(0), {}), "truncated"],
    ["a self-referencing list", torchZip(pickle(op.PROTO2, op.EMPTY_LIST, 0x71, 0, 0x68, 0, op.APPEND, op.STOP), {}), "unsupported"],
    ["lists of lists of one list (2^40 values)", torchZip(billionLaughs(40), {}), "unsupported"]
  ]

  it.effect.each(rejects)("rejects %s", ([, bytes, reason]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(loadTorchCheckpoint(bytes, { file: "bad.pt" }))
      expect(error.reason).toBe(reason)
      expect(error.file).toBe("bad.pt")
    }))
})
