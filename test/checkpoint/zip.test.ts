import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { CheckpointErrorReason } from "../../src/checkpoint/CheckpointError.ts"
import { readZip } from "../../src/checkpoint/zip.ts"
import { makeZip } from "../support/checkpointZip.ts"

const text = (s: string) => new TextEncoder().encode(s)
const repetitive = text("weights ".repeat(500))

/** Applies `edit` to a copy of a classic (non-ZIP64) archive, given the offset of its first central header. */
const patchCentral = (zip: Uint8Array, edit: (view: DataView, central: number) => void): Uint8Array => {
  const out = zip.slice()
  const view = new DataView(out.buffer)
  edit(view, view.getUint32(out.byteLength - 22 + 16, true))
  return out
}

describe("readZip", () => {
  it.effect("reads stored entries as views and inflates deflated ones", () =>
    Effect.gen(function*() {
      const zip = makeZip([
        { name: "archive/data.pkl", data: text("pickle") },
        { name: "archive/data/0", data: repetitive, method: "deflate" },
        { name: "empty", data: new Uint8Array(0) }
      ])
      const entries = yield* readZip(zip)
      expect([...entries.keys()]).toEqual(["archive/data.pkl", "archive/data/0", "empty"])
      expect(entries.get("archive/data.pkl")).toEqual(text("pickle"))
      expect(entries.get("archive/data.pkl")!.buffer).toBe(zip.buffer)
      expect(entries.get("archive/data/0")).toEqual(repetitive)
      expect(entries.get("empty")!.byteLength).toBe(0)
    }))

  it.effect("reads ZIP64 end records and extra fields", () =>
    Effect.gen(function*() {
      const zip = makeZip([{ name: "a", data: text("alpha") }, { name: "b", data: repetitive, method: "deflate" }], { zip64: true })
      const entries = yield* readZip(zip)
      expect(entries.get("a")).toEqual(text("alpha"))
      expect(entries.get("b")).toEqual(repetitive)
    }))

  it.effect("finds the end record behind an archive comment", () =>
    Effect.gen(function*() {
      const zip = makeZip([{ name: "a", data: text("alpha") }])
      const comment = text("PK\x05\x06 is not a record here")
      const withComment = new Uint8Array(zip.byteLength + comment.byteLength)
      withComment.set(zip)
      withComment.set(comment, zip.byteLength)
      new DataView(withComment.buffer).setUint16(zip.byteLength - 2, comment.byteLength, true)
      const entries = yield* readZip(withComment)
      expect(entries.get("a")).toEqual(text("alpha"))
    }))

  const good = makeZip([{ name: "a", data: repetitive, method: "deflate" }, { name: "b", data: text("bravo") }])
  const corruptData = good.slice()
  corruptData[Buffer.from(good).indexOf("bravo") + 2]! ^= 0xff // "brXvo": the stored data no longer matches its CRC

  const rejects: ReadonlyArray<readonly [string, Uint8Array, CheckpointErrorReason]> = [
    ["bytes that are not a zip", text("not a zip archive at all, just some text"), "zip"],
    ["an archive cut short", good.subarray(0, good.byteLength - 10), "zip"],
    ["data that fails its CRC", corruptData, "zip"],
    ["an unknown compression method", patchCentral(good, (v, c) => v.setUint16(c + 10, 12, true)), "unsupported"],
    ["an encrypted entry", patchCentral(good, (v, c) => v.setUint16(c + 8, 1, true)), "unsupported"],
    ["a size DEFLATE cannot produce", patchCentral(good, (v, c) => v.setUint32(c + 24, 2_000_000_000, true)), "zip"],
    ["a declared size smaller than the inflated data", patchCentral(good, (v, c) => v.setUint32(c + 24, 100, true)), "zip"],
    ["a local header offset past the file", patchCentral(good, (v, c) => v.setUint32(c + 42, 1_000_000, true)), "truncated"],
    ["a directory past the end", patchCentral(good, (v) => v.setUint32(good.byteLength - 6, 1_000_000, true)), "zip"],
    ["more entries than the directory holds", patchCentral(good, (v) => v.setUint16(good.byteLength - 12, 5000, true)), "zip"],
    ["a duplicated name", makeZip([{ name: "x", data: text("1") }, { name: "x", data: text("2") }]), "zip"]
  ]

  it.effect.each(rejects)("rejects %s", ([, bytes, reason]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(readZip(bytes, "bad.zip"))
      expect(error.reason).toBe(reason)
      expect(error.file).toBe("bad.zip")
    }))
})
