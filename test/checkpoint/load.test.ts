import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { loadCheckpoint } from "../../src/checkpoint/load.ts"
import { encode } from "../../src/checkpoint/safetensors.ts"
import { saveSafetensors } from "../../src/checkpoint/save.ts"
import { summarize } from "../../src/checkpoint/summary.ts"
import { fromFloat32, make, toNumbers } from "../../src/checkpoint/Tensor.ts"
import { fixturePath } from "../support/checkpointFixtures.ts"

const dir = mkdtempSync(join(tmpdir(), "checkpoint-load-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const weights = new Map([
  ["w", fromFloat32([2, 3], new Float32Array([1, 2, 3, 4, 5, 6]))],
  ["ids", make("I64", [2], new Uint8Array(new BigInt64Array([3n, 4n]).buffer))],
  ["half", make("F16", [4], new Uint8Array(8))]
])

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) => effect.pipe(Effect.provide(NodeServices.layer))

describe("loadCheckpoint", () => {
  it.effect("recognises safetensors and returns its tensors, metadata and bytes", () =>
    run(Effect.gen(function*() {
      const path = join(dir, "model.safetensors")
      const bytes = encode(weights, { format: "pt" })
      writeFileSync(path, bytes)
      const loaded = yield* loadCheckpoint(path)
      expect(loaded.format).toBe("safetensors")
      expect(loaded.extra).toEqual({ format: "pt" })
      expect(loaded.bytes).toEqual(bytes)
      expect(toNumbers(loaded.tensors.get("w")!)).toEqual([1, 2, 3, 4, 5, 6])
    })))

  it.effect("recognises a PyTorch zip checkpoint whatever its extension", () =>
    run(Effect.gen(function*() {
      const loaded = yield* loadCheckpoint(fixturePath("suno_style.pt"))
      expect(loaded.format).toBe("torch")
      expect(loaded.tensors.has("model.lm_head.weight")).toBe(true)
      expect(loaded.extra.iter_num).toBe(1234)
    })))

  it.effect("passes the allowlist extension through to the unpickler", () =>
    run(Effect.gen(function*() {
      const refused = yield* Effect.flip(loadCheckpoint(fixturePath("evil_os_system.pt")))
      expect(refused.reason).toBe("disallowed-global")
      const loaded = yield* loadCheckpoint(fixturePath("evil_os_system.pt"), { allow: [{ module: "os", name: "system" }] })
      expect(loaded.tensors.size).toBe(0)
    })))

  it.effect("refuses the legacy non-zip torch format with directions to convert it", () =>
    run(Effect.gen(function*() {
      const error = yield* Effect.flip(loadCheckpoint(fixturePath("legacy.pt")))
      expect(error.reason).toBe("unsupported")
      expect(error.message).toContain("legacy")
      expect(error.remediation).toContain("safetensors")
    })))

  it.effect("fails with io for a missing file and unsupported for an unknown format", () =>
    run(Effect.gen(function*() {
      const missing = yield* Effect.flip(loadCheckpoint(join(dir, "nope.bin")))
      expect(missing.reason).toBe("io")
      expect(missing.file).toBe(join(dir, "nope.bin"))
      const textPath = join(dir, "notes.txt")
      writeFileSync(textPath, "just some notes, not weights")
      const unknown = yield* Effect.flip(loadCheckpoint(textPath))
      expect(unknown.reason).toBe("unsupported")
    })))
})

describe("saveSafetensors", () => {
  it.effect("converts a torch checkpoint to safetensors atomically, leaving no temporary file", () =>
    run(Effect.gen(function*() {
      const out = join(dir, "converted")
      mkdirSync(out)
      const torch = yield* loadCheckpoint(fixturePath("state_dict.pt"))
      yield* saveSafetensors(join(out, "model.safetensors"), torch.tensors, { source: "state_dict.pt" })
      expect(readdirSync(out)).toEqual(["model.safetensors"])
      const back = yield* loadCheckpoint(join(out, "model.safetensors"))
      expect(back.extra).toEqual({ source: "state_dict.pt" })
      expect(new Set(back.tensors.keys())).toEqual(new Set(torch.tensors.keys()))
      for (const [name, tensor] of torch.tensors) {
        expect(back.tensors.get(name)!.dtype).toBe(tensor.dtype)
        expect(back.tensors.get(name)!.data).toEqual(tensor.data)
      }
    })))

  it.effect("fails with io when the folder does not exist", () =>
    run(Effect.gen(function*() {
      const error = yield* Effect.flip(saveSafetensors(join(dir, "missing", "model.safetensors"), weights))
      expect(error.reason).toBe("io")
    })))
})

describe("summarize", () => {
  it("counts tensors, parameters, bytes and dtypes", () => {
    expect(summarize(weights)).toEqual({
      tensorCount: 3,
      parameters: 6 + 2 + 4,
      bytes: 6 * 4 + 2 * 8 + 4 * 2,
      dtypes: { F32: 1, I64: 1, F16: 1 }
    })
  })
})
