import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { loadCheckpoint, type LoadOptions } from "../../src/checkpoint/load.ts"
import { openCheckpoint } from "../../src/checkpoint/reader.ts"
import { encode } from "../../src/checkpoint/safetensors.ts"
import { fromFloat32, make } from "../../src/checkpoint/Tensor.ts"
import { readZip } from "../../src/checkpoint/zip.ts"
import { fixturePath, goldenPath, readFixture } from "../support/checkpointFixtures.ts"
import { torchZip } from "../support/checkpointPickle.ts"
import { filledF32, filledName, filledTorchZip, stateDictPickle } from "../support/checkpointStateDict.ts"
import { makeZip } from "../support/checkpointZip.ts"

const dir = mkdtempSync(join(tmpdir(), "checkpoint-reader-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const write = (name: string, bytes: Uint8Array): string => {
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return path
}

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) => effect.pipe(Effect.provide(NodeServices.layer))

/** state_dict.pt's entries re-zipped: every entry deflated, and with ZIP64 end records and extra fields. */
const rezipped = (() => {
  const entries = Effect.runSync(readZip(readFixture("state_dict.pt")))
  return makeZip([...entries].map(([name, data]) => ({ name, data, method: "deflate" as const })), { zip64: true })
})()

/** Shared storages, offset views, strided views, F16, an empty tensor; ZIP64, some storages deflated. */
const views = makeZip([
  {
    name: "archive/data.pkl",
    data: stateDictPickle([
      { name: "base", key: "0", numel: 24, size: [4, 6], stride: [6, 1] },
      { name: "rows", key: "0", numel: 24, offset: 6, size: [2, 6], stride: [6, 1] },
      { name: "transposed", key: "0", numel: 24, size: [6, 4], stride: [1, 6] },
      { name: "every_other", key: "0", numel: 24, offset: 1, size: [12], stride: [2] },
      { name: "half", key: "1", storageType: "HalfStorage", numel: 8, size: [2, 4], stride: [4, 1] },
      { name: "empty", key: "2", numel: 0, size: [0, 3], stride: [3, 1] }
    ])
  },
  { name: "archive/data/0", data: new Uint8Array(new Float32Array(Array.from({ length: 24 }, (_, i) => i * 1.5)).buffer), method: "deflate" },
  { name: "archive/data/1", data: new Uint8Array(16).map((_, i) => i * 7) },
  { name: "archive/data/2", data: new Uint8Array(0) },
  { name: "archive/byteorder", data: new TextEncoder().encode("little") }
], { zip64: true })

const cases: ReadonlyArray<readonly [string, () => string, LoadOptions?]> = [
  ["state_dict.pt", () => fixturePath("state_dict.pt")],
  ["state_dict_p4.pt", () => fixturePath("state_dict_p4.pt")],
  ["suno_style.pt", () => fixturePath("suno_style.pt")],
  ["evil_popen.pt (allowed, constructed)", () => fixturePath("evil_popen.pt"), {
    allow: [{ module: "subprocess", name: "Popen", construct: (args) => ({ refused: args[0] }) }]
  }],
  ["evil_os_system.pt (allowed, inert)", () => fixturePath("evil_os_system.pt"), { allow: [{ module: "os", name: "system" }] }],
  ["the golden model.safetensors", () => goldenPath("model.safetensors")],
  ["safetensors with metadata, mixed dtypes and an empty tensor", () =>
    write("mixed.safetensors", encode(new Map([
      ["a.float", fromFloat32([2, 2], new Float32Array([1, -2, 3.5, 4]))],
      ["b.half", make("F16", [3], new Uint8Array([0, 60, 0, 64, 0, 0xc0]))],
      ["c.ids", make("I64", [2], new Uint8Array(new BigInt64Array([7n, -9n]).buffer))],
      ["d.empty", make("F32", [0, 4], new Uint8Array(0))]
    ]), { format: "pt" }))],
  ["state_dict.pt re-zipped deflated with ZIP64 records", () => write("rezipped.pt", rezipped)],
  ["a torch zip of shared, offset and strided views", () => write("views.pt", views)],
  ["a torch zip of filled storages", () => write("filled.pt", filledTorchZip(5, 1000, { deflated: new Set([1, 3]) }))]
]

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

describe("openCheckpoint", () => {
  it.effect.each(cases)("reads every tensor of %s exactly as loadCheckpoint does", ([, path, options]) =>
    run(Effect.gen(function*() {
      const file = path()
      const loaded = yield* loadCheckpoint(file, options)
      const reader = yield* openCheckpoint(file, options)
      expect(reader.file).toBe(file)
      expect(reader.format).toBe(loaded.format)
      expect(reader.extra).toEqual(loaded.extra)
      expect([...reader.tensors.keys()]).toEqual([...loaded.tensors.keys()])
      for (const [name, want] of loaded.tensors) {
        expect(reader.tensors.get(name)).toEqual({ dtype: want.dtype, shape: want.shape })
        const read = yield* reader.read([name])
        expect([...read.keys()]).toEqual([name])
        const got = read.get(name)!
        expect(got.dtype).toBe(want.dtype)
        expect(got.shape).toEqual(want.shape)
        expect(got.data.byteLength).toBe(want.data.byteLength)
        expect(same(got.data, want.data), name).toBe(true)
        // Read from the file, not out of a copy of all of it.
        expect(got.data.buffer.byteLength).toBeLessThan(Math.max(1, loaded.bytes.byteLength))
      }
      const all = yield* reader.read(reader.tensors.keys())
      expect([...all.keys()]).toEqual([...loaded.tensors.keys()])
      for (const [name, want] of loaded.tensors) expect(same(all.get(name)!.data, want.data), name).toBe(true)
    }).pipe(Effect.scoped)))

  it.effect("reads safetensors tensors into arrays of their own size", () =>
    run(Effect.gen(function*() {
      const reader = yield* openCheckpoint(goldenPath("model.safetensors"))
      for (const tensor of (yield* reader.read([...reader.tensors.keys()].slice(0, 20))).values()) {
        expect(tensor.data.buffer.byteLength).toBe(tensor.data.byteLength)
      }
    }).pipe(Effect.scoped)))

  it.effect("within one read, tensors of one storage share its bytes; unknown names are skipped", () =>
    run(Effect.gen(function*() {
      const reader = yield* openCheckpoint(write("views-share.pt", views))
      const read = yield* reader.read(["base", "rows", "nope", "transposed"])
      expect([...read.keys()]).toEqual(["base", "rows", "transposed"])
      expect(read.get("rows")!.data.buffer).toBe(read.get("base")!.data.buffer)
      expect(read.get("rows")!.data.byteOffset).toBe(read.get("base")!.data.byteOffset + 6 * 4)
      expect(read.get("transposed")!.data.buffer).not.toBe(read.get("base")!.data.buffer)
    }).pipe(Effect.scoped)))

  it.effect("keeps the file open until the scope closes", () =>
    run(Effect.gen(function*() {
      const file = write("scope.safetensors", encode(new Map([["w", fromFloat32([2], new Float32Array([1, 2]))]])))
      const handles = () => readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === file
        } catch {
          return false
        }
      }).length
      const reader = yield* Effect.scoped(Effect.gen(function*() {
        const reader = yield* openCheckpoint(file)
        expect(handles()).toBe(1)
        return reader
      }))
      expect(handles()).toBe(0)
      const error = yield* Effect.flip(reader.read(["w"]))
      expect(error.reason).toBe("io")
    })))

  const refusals: ReadonlyArray<readonly [string, () => string, string]> = [
    ["a missing file", () => join(dir, "missing.safetensors"), "io"],
    ["a legacy torch file", () => fixturePath("legacy.pt"), "unsupported"],
    ["an empty file", () => write("empty.bin", new Uint8Array(0)), "unsupported"],
    ["a safetensors file cut inside its header", () => write("cut-header.safetensors", readSafetensors().subarray(0, 40)), "truncated"],
    ["a safetensors file cut inside its data", () => {
      const bytes = readSafetensors()
      return write("cut-data.safetensors", bytes.subarray(0, bytes.byteLength - 3))
    }, "bounds"],
    ["a torch zip cut short", () => write("cut.pt", views.subarray(0, views.byteLength - 30)), "zip"],
    ["a torch zip whose pickle refers to os.system", () => fixturePath("evil_os_system.pt"), "disallowed-global"]
  ]

  it.effect.each(refusals)("fails at open for %s", ([, path, reason]) =>
    run(Effect.gen(function*() {
      const error = yield* Effect.flip(openCheckpoint(path()))
      expect(error._tag).toBe("CheckpointError")
      expect(error.reason).toBe(reason)
      expect(error.remediation.length).toBeGreaterThan(0)
    }).pipe(Effect.scoped)))

  it.effect.each([
    ["safetensors", () => write("shrinks.safetensors", readSafetensors()), "b.half", (size: number) => size - 2],
    ["torch", () => write("shrinks.pt", filledTorchZip(3, 1000)), filledName(2), () => 200]
  ] as const)("fails as truncated when a %s file shrinks after it was opened", ([, path, last, cut]) =>
    run(Effect.gen(function*() {
      const file = path()
      const reader = yield* openCheckpoint(file)
      truncateSync(file, cut(statSync(file).size))
      const error = yield* Effect.flip(reader.read([last]))
      expect(error.reason).toBe("truncated")
      expect(error.file).toBe(file)
    }).pipe(Effect.scoped)))

  it.effect("checks a storage's CRC when it is read, and still reads the others", () =>
    run(Effect.gen(function*() {
      const bytes = torchZip(stateDictPickle([
        { name: "good", key: "0", numel: 4, size: [4], stride: [1] },
        { name: "bad", key: "1", numel: 4, size: [4], stride: [1] }
      ]), { 0: filledF32(4, 1), 1: filledF32(4, 2) })
      const damaged = bytes.slice()
      damaged[Buffer.from(bytes).indexOf(Buffer.from(filledF32(4, 2)))]! ^= 0xff
      const reader = yield* openCheckpoint(write("crc.pt", damaged))
      expect((yield* reader.read(["good"])).get("good")!.data).toEqual(filledF32(4, 1))
      const error = yield* Effect.flip(reader.read(["bad"]))
      expect(error.reason).toBe("zip")
      expect(error.message).toContain("CRC")
    }).pipe(Effect.scoped)))

  it.effect("every truncation of a file is a CheckpointError at open or at read, never a defect", () =>
    run(Effect.gen(function*() {
      for (const [name, bytes] of [["views.pt", views], ["rezipped.pt", rezipped], ["st.safetensors", readSafetensors()]] as const) {
        const step = Math.max(1, Math.floor(bytes.byteLength / 150))
        for (let length = 0; length < bytes.byteLength; length += step) {
          const file = write(`prefix-${name}`, bytes.subarray(0, length))
          const exit = yield* Effect.exit(Effect.scoped(Effect.flatMap(openCheckpoint(file), (r) => r.read(r.tensors.keys()))))
          if (Exit.isFailure(exit)) {
            const error = Cause.findErrorOption(exit.cause)
            if (error._tag === "None") expect.fail(`${name} cut to ${length} bytes: ${Cause.pretty(exit.cause)}`)
          } else {
            expect.fail(`${name} cut to ${length} of ${bytes.byteLength} bytes was read without an error`)
          }
        }
      }
    })))
})

function readSafetensors(): Uint8Array {
  return encode(new Map([
    ["a.float", fromFloat32([4], new Float32Array([1, 2, 3, 4]))],
    ["b.half", make("F16", [2], new Uint8Array(4))],
    ["c.ids", make("I64", [3], new Uint8Array(24))]
  ]))
}
