/**
 * A restricted pickle virtual machine. It interprets the opcodes that
 * `torch.save` and NumPy emit (protocols 2 to 5) and builds plain data from
 * them; nothing in a pickle is ever executed. A GLOBAL or STACK_GLOBAL opcode
 * resolves only names on the caller's allowlist (the counterpart of torch's
 * `add_safe_globals`); any other name stops decoding with a
 * "disallowed-global" error before anything could be called. An allowed
 * global, when "called" by REDUCE or NEWOBJ, either runs the caller's
 * `construct` over the pickled arguments or yields an inert `PyObject`
 * recording them.
 *
 * Python values map to: None → null, bool → boolean, int → number (bigint
 * beyond 2^53), float → number, str → string, bytes → Uint8Array,
 * list → Array, tuple → frozen Array, dict → Map.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { ByteReader } from "./ByteReader.ts"
import { attempt, type CheckpointError, fail, inMemory } from "./CheckpointError.ts"

/** A Python global the unpickler may resolve. */
export interface SafeGlobal {
  readonly module: string
  readonly name: string
  /**
   * The value REDUCE / NEWOBJ produce from the pickled arguments. Without it
   * they produce an inert `PyObject`. It may stop decoding with `fail`.
   */
  readonly construct?: (args: ReadonlyArray<unknown>) => unknown
}

/** An allowed global called without a `construct`: its name, arguments and BUILD state, as data. */
export class PyObject {
  readonly module: string
  readonly name: string
  readonly args: ReadonlyArray<unknown>
  state: unknown = undefined

  constructor(module: string, name: string, args: ReadonlyArray<unknown>) {
    this.module = module
    this.name = name
    this.args = args
  }
}

/** A resolved global as a value: called by REDUCE / NEWOBJ, or kept as data (torch's storage types). */
export class PyGlobal {
  readonly global: SafeGlobal

  constructor(global: SafeGlobal) {
    this.global = global
  }
}

export interface UnpickleOptions {
  /** Name used in errors. */
  readonly file?: string
  /** The globals that may be resolved; any other name fails as "disallowed-global". */
  readonly globals: ReadonlyArray<SafeGlobal>
  /** Resolves BINPERSID ids (torch storages); without it a persistent id fails. */
  readonly persistentLoad?: (pid: unknown) => unknown
}

export const qualifiedName = (global: { readonly module: string; readonly name: string }): string =>
  `${global.module}.${global.name}`

const utf8 = new TextDecoder()

/** Names of the opcodes left out on purpose (text-protocol forms, sets, out-of-band buffers), for error messages. */
const unimplemented: Readonly<Record<number, string>> = {
  0x69: "INST", 0x6f: "OBJ", 0x50: "PERSID", 0x49: "INT", 0x4c: "LONG",
  0x46: "FLOAT", 0x53: "STRING", 0x56: "UNICODE", 0x70: "PUT", 0x67: "GET", 0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4",
  0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX"
}

const unpickleSync = (bytes: Uint8Array, options: UnpickleOptions): unknown => {
  const file = options.file ?? inMemory
  const allowed = new Map(options.globals.map((g) => [qualifiedName(g), g]))
  const reader = new ByteReader(bytes, file)
  const stack: Array<unknown> = []
  const marks: Array<number> = []
  const memo = new Map<number, unknown>()
  const bad = (message: string): never => fail(file, "pickle", `${message} (at byte ${reader.offset})`)

  const pop = (): unknown => (stack.length > (marks.at(-1) ?? 0) ? stack.pop() : bad("stack underflow"))
  const top = (): unknown => (stack.length > (marks.at(-1) ?? 0) ? stack[stack.length - 1] : bad("stack underflow"))
  const popMark = (): Array<unknown> => {
    const at = marks.pop()
    if (at === undefined) return bad("no MARK to pop to")
    return stack.splice(at)
  }
  const resolve = (module: string, name: string): PyGlobal => {
    const global = allowed.get(`${module}.${name}`)
    if (global === undefined) {
      return fail(file, "disallowed-global", `the pickle refers to the Python global ${module}.${name}, which is not on the allowlist`,
        `Only load checkpoints from sources you trust. If ${module}.${name} is expected, pass ` +
          `{ allow: [{ module: "${module}", name: "${name}" }] } to keep it as inert data; nothing is ever called.`)
    }
    return new PyGlobal(global)
  }
  const call = (callable: unknown, args: unknown): unknown => {
    if (!(callable instanceof PyGlobal)) return bad("REDUCE/NEWOBJ on something that is not an allowed global")
    if (!Array.isArray(args)) return bad(`arguments of ${qualifiedName(callable.global)} are not a tuple`)
    const { construct, module, name } = callable.global
    return construct ? construct(args) : new PyObject(module, name, args)
  }
  const line = (): string => {
    const end = bytes.indexOf(0x0a, reader.offset)
    if (end < 0) return fail(file, "truncated", "a GLOBAL name is not newline-terminated")
    return utf8.decode(reader.take(end - reader.offset + 1)).slice(0, -1)
  }
  const string = (length: number): string => utf8.decode(reader.take(length, "a string"))
  const bytesOf = (length: number): Uint8Array => reader.take(length, "a bytes object").slice()
  const long = (length: number): number | bigint => {
    const data = reader.take(length, "a long")
    if (length === 0) return 0
    // Little-endian two's complement; parsed through hex, which is linear in the length.
    let hex = "0x"
    for (let i = length - 1; i >= 0; i--) hex += data[i]!.toString(16).padStart(2, "0")
    let value = BigInt(hex)
    if (data[length - 1]! & 0x80) value -= 1n << BigInt(8 * length)
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value
  }
  const appendTo = (list: unknown, items: ReadonlyArray<unknown>) => {
    if (!Array.isArray(list) || Object.isFrozen(list)) return bad("APPEND to something that is not a list")
    for (const item of items) list.push(item)
  }
  const setItems = (dict: unknown, items: ReadonlyArray<unknown>) => {
    if (!(dict instanceof Map)) return bad("SETITEM on something that is not a dict")
    if (items.length % 2 !== 0) return bad("SETITEMS with an odd number of items")
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1])
  }
  const put = (index: number) => memo.set(index, top())
  const get = (index: number) => (memo.has(index) ? stack.push(memo.get(index)) : bad(`memo entry ${index} is not defined`))
  const tuple = (items: Array<unknown>) => stack.push(Object.freeze(items))

  for (;;) {
    const op = reader.u8("the next opcode (no STOP)")
    switch (op) {
      case 0x80: { // PROTO
        const version = reader.u8()
        if (version > 5) fail(file, "unsupported", `pickle protocol ${version} is newer than 5`)
        break
      }
      case 0x95: reader.u64("a FRAME length"); break // frames are only a buffering hint
      case 0x2e: return pop() // STOP
      case 0x28: marks.push(stack.length); break // MARK
      case 0x30: pop(); break // POP
      case 0x31: popMark(); break // POP_MARK
      case 0x32: stack.push(top()); break // DUP
      case 0x4e: stack.push(null); break // NONE
      case 0x88: stack.push(true); break // NEWTRUE
      case 0x89: stack.push(false); break // NEWFALSE
      case 0x4a: stack.push(reader.i32()); break // BININT
      case 0x4b: stack.push(reader.u8()); break // BININT1
      case 0x4d: stack.push(reader.u16()); break // BININT2
      case 0x8a: stack.push(long(reader.u8())); break // LONG1
      case 0x8b: stack.push(long(reader.i32())); break // LONG4 (a negative length fails in `take`)
      case 0x47: stack.push(reader.f64BigEndian()); break // BINFLOAT
      case 0x58: stack.push(string(reader.u32())); break // BINUNICODE
      case 0x8c: stack.push(string(reader.u8())); break // SHORT_BINUNICODE
      case 0x8d: stack.push(string(reader.u64())); break // BINUNICODE8
      case 0x54: stack.push(bytesOf(reader.i32())); break // BINSTRING (Python 2 str), kept as bytes
      case 0x55: stack.push(bytesOf(reader.u8())); break // SHORT_BINSTRING
      case 0x42: stack.push(bytesOf(reader.u32())); break // BINBYTES
      case 0x43: stack.push(bytesOf(reader.u8())); break // SHORT_BINBYTES
      case 0x8e: stack.push(bytesOf(reader.u64())); break // BINBYTES8
      case 0x7d: stack.push(new Map()); break // EMPTY_DICT
      case 0x64: { // DICT
        const dict = new Map()
        setItems(dict, popMark())
        stack.push(dict)
        break
      }
      case 0x5d: stack.push([]); break // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break // LIST
      case 0x29: tuple([]); break // EMPTY_TUPLE
      case 0x74: tuple(popMark()); break // TUPLE
      case 0x85: tuple([pop()]); break // TUPLE1
      case 0x86: { // TUPLE2
        const b = pop()
        tuple([pop(), b])
        break
      }
      case 0x87: { // TUPLE3
        const c = pop()
        const b = pop()
        tuple([pop(), b, c])
        break
      }
      case 0x61: { // APPEND
        const item = pop()
        appendTo(top(), [item])
        break
      }
      case 0x65: { // APPENDS
        const items = popMark()
        appendTo(top(), items)
        break
      }
      case 0x73: { // SETITEM
        const value = pop()
        const key = pop()
        setItems(top(), [key, value])
        break
      }
      case 0x75: { // SETITEMS
        const items = popMark()
        setItems(top(), items)
        break
      }
      case 0x71: put(reader.u8()); break // BINPUT
      case 0x72: put(reader.u32()); break // LONG_BINPUT
      case 0x94: put(memo.size); break // MEMOIZE
      case 0x68: get(reader.u8()); break // BINGET
      case 0x6a: get(reader.u32()); break // LONG_BINGET
      case 0x63: { // GLOBAL
        const module = line()
        stack.push(resolve(module, line()))
        break
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop()
        const module = pop()
        if (typeof module !== "string" || typeof name !== "string") return bad("STACK_GLOBAL needs two strings")
        stack.push(resolve(module, name))
        break
      }
      case 0x52: { // REDUCE
        const args = pop()
        stack.push(call(pop(), args))
        break
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args), which for allowed globals is the same as a call
        const args = pop()
        stack.push(call(pop(), args))
        break
      }
      case 0x62: { // BUILD
        const state = pop()
        const target = top()
        // Only inert objects keep their state; Python attributes of other values
        // (e.g. a state dict's `_metadata`) are not part of the data we return.
        if (target instanceof PyObject) target.state = state
        break
      }
      case 0x51: { // BINPERSID
        const pid = pop()
        if (options.persistentLoad === undefined) return bad("a persistent id, but this file has no external storages")
        stack.push(options.persistentLoad(pid))
        break
      }
      default: {
        const name = unimplemented[op]
        const what = name ? `opcode ${name}` : `unknown opcode 0x${op.toString(16).padStart(2, "0")}`
        return fail(file, "opcode", `the pickle uses ${what} at byte ${reader.offset - 1}, which the restricted unpickler does not implement`)
      }
    }
  }
}

/** Runs a pickle program under the allowlist and returns the value it builds. */
export const unpickle = (bytes: Uint8Array, options: UnpickleOptions): Effect.Effect<unknown, CheckpointError> =>
  attempt(() => unpickleSync(bytes, options))
