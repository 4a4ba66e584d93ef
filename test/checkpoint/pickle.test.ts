import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { CheckpointErrorReason } from "../../src/checkpoint/CheckpointError.ts"
import { PyObject, unpickle } from "../../src/checkpoint/pickle.ts"
import { readFixture } from "../support/checkpointFixtures.ts"
import { global, int, op, pickle, str, tuple } from "../support/checkpointPickle.ts"

/** What Python's pickle.load returns for plain_p*.pkl (see make_fixtures.py), in this module's mapping. */
const plainData = new Map<string, unknown>([
  ["small", 7], ["medium", 300], ["negative", -5], ["int32", -70000], ["long", -(2 ** 40)], ["huge", 2n ** 70n],
  ["float", 1.5], ["text", "h\u00e9llo \u2192"], ["raw", new Uint8Array([0, 255])], ["none", null], ["yes", true], ["no", false],
  ["empty", []], ["one", [1]], ["three", [1, 2, 3]], ["five", [1, 2, 3, 4, 5]],
  ["nested", [1, [2, new Map([["k", "v"]])]]], ["shared", [9]], ["again", [9]]
])

describe("unpickle", () => {
  it.effect.each([3, 4, 5])("decodes plain data pickled by Python with protocol %i", (protocol) =>
    Effect.gen(function*() {
      const value = yield* unpickle(readFixture(`plain_p${protocol}.pkl`), { globals: [] })
      expect(value).toEqual(plainData)
      const dict = value as Map<string, unknown>
      expect(dict.get("shared")).toBe(dict.get("again")) // the memo keeps shared objects shared
      expect(Object.isFrozen(dict.get("three"))).toBe(true) // tuples are frozen, lists are not
      expect(Object.isFrozen(dict.get("nested"))).toBe(false)
    }))

  it.effect("refuses a global that is not allowed, naming it", () =>
    Effect.gen(function*() {
      const program = pickle(op.PROTO2, global("os", "system"), tuple(str("touch pwned")), op.REDUCE, op.STOP)
      const error = yield* Effect.flip(unpickle(program, { file: "evil.pkl", globals: [] }))
      expect(error.reason).toBe("disallowed-global")
      expect(error.file).toBe("evil.pkl")
      expect(error.message).toContain("os.system")
      expect(error.remediation).toContain(`{ module: "os", name: "system" }`)
    }))

  it.effect("keeps an allowed global without a constructor as an inert PyObject with its BUILD state", () =>
    Effect.gen(function*() {
      const program = pickle(
        op.PROTO2, global("mylib.config", "Settings"), tuple(int(3)), op.NEWOBJ,
        op.EMPTY_DICT, str("depth"), int(12), op.SETITEM, op.BUILD, op.STOP
      )
      const value = yield* unpickle(program, { globals: [{ module: "mylib.config", name: "Settings" }] })
      expect(value).toBeInstanceOf(PyObject)
      const object = value as PyObject
      expect([object.module, object.name, object.args]).toEqual(["mylib.config", "Settings", [3]])
      expect(object.state).toEqual(new Map([["depth", 12]]))
    }))

  it.effect("calls an allowed global's constructor on the pickled arguments", () =>
    Effect.gen(function*() {
      const program = pickle(op.PROTO2, global("fractions", "Fraction"), tuple(int(3), int(4)), op.REDUCE, op.STOP)
      const value = yield* unpickle(program, {
        globals: [{ module: "fractions", name: "Fraction", construct: ([n, d]) => (n as number) / (d as number) }]
      })
      expect(value).toBe(0.75)
    }))

  const rejects: ReadonlyArray<readonly [string, Uint8Array, CheckpointErrorReason]> = [
    ["a stack underflow", pickle(op.PROTO2, op.REDUCE, op.STOP), "pickle"],
    ["popping across a MARK", pickle(op.PROTO2, int(1), op.MARK, op.TUPLE1, op.STOP), "pickle"],
    ["an undefined memo entry", pickle(op.PROTO2, 0x68, 5, op.STOP), "pickle"],
    ["APPEND to a tuple", pickle(op.PROTO2, op.EMPTY_TUPLE, int(1), op.APPEND, op.STOP), "pickle"],
    ["SETITEM on a list", pickle(op.PROTO2, op.EMPTY_LIST, int(1), int(2), op.SETITEM, op.STOP), "pickle"],
    ["REDUCE on a plain value", pickle(op.PROTO2, int(1), op.EMPTY_TUPLE, op.REDUCE, op.STOP), "pickle"],
    ["a persistent id without storages", pickle(op.PROTO2, str("x"), op.BINPERSID, op.STOP), "pickle"],
    ["an unknown opcode", pickle(op.PROTO2, 0xff, op.STOP), "opcode"],
    ["protocol 0's INST", pickle("iposix\nsystem\n", op.STOP), "opcode"],
    ["a protocol newer than 5", pickle(0x80, 6, op.NONE, op.STOP), "unsupported"],
    ["a program without STOP", pickle(op.PROTO2, op.NONE), "truncated"],
    ["a string longer than the data", pickle(op.PROTO2, 0x58, [0xff, 0xff, 0, 0], "abc", op.STOP), "truncated"],
    ["an unterminated GLOBAL", pickle(op.PROTO2, "cos"), "truncated"]
  ]

  it.effect.each(rejects)("rejects %s", ([, program, reason]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(unpickle(program, { globals: [] }))
      expect(error.reason).toBe(reason)
    }))
})
