/**
 * A tiny random Bark repository as the hub would serve it: the files of a
 * model directory (config, weights, vocab, voices) keyed by repo path, with
 * the weights as safetensors or as a torch zip `pytorch_model.bin`.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { makeRandomCheckpoint, presets } from "../../src/dev/randomCheckpoint.ts"
import { writeBarkModelDir } from "../../src/dev/modelDir.ts"
import type { DType, Weights } from "../../src/checkpoint/Tensor.ts"
import { global, int, op, pickle, type Part, str, torchZip, tuple } from "./checkpointPickle.ts"

const storageTypes: Partial<Record<DType, string>> = {
  F32: "FloatStorage",
  F16: "HalfStorage",
  BF16: "BFloat16Storage",
  I64: "LongStorage",
  I32: "IntStorage",
  U8: "ByteStorage",
  BOOL: "BoolStorage"
}

const contiguousStrides = (shape: ReadonlyArray<number>) =>
  shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1))

/** A state dict as `torch.save` writes it: an OrderedDict of `_rebuild_tensor_v2` tensors, one storage each. */
export const torchStateDict = (weights: Weights): Uint8Array => {
  const items: Array<Part> = []
  const storages: Record<string, Uint8Array> = {}
  let key = 0
  for (const [name, t] of weights) {
    const id = String(key++)
    storages[id] = t.data
    const numel = t.shape.reduce((a, b) => a * b, 1)
    items.push(
      str(name),
      global("torch._utils", "_rebuild_tensor_v2"),
      tuple(
        tuple(str("storage"), global("torch", storageTypes[t.dtype]!), str(id), str("cpu"), int(numel)),
        op.BINPERSID,
        int(0),
        tuple(...t.shape.map(int)),
        tuple(...contiguousStrides(t.shape).map(int)),
        op.NEWFALSE,
        global("collections", "OrderedDict"),
        op.EMPTY_TUPLE,
        op.REDUCE
      ),
      op.REDUCE
    )
  }
  const SETITEMS = 0x75
  const dataPkl = pickle(op.PROTO2, global("collections", "OrderedDict"), op.EMPTY_TUPLE, op.REDUCE, op.MARK, items, SETITEMS, op.STOP)
  return torchZip(dataPkl, storages)
}

/** The files of a tiny random Bark model, by repo path; `weights: "torch"` serves pytorch_model.bin instead of safetensors. */
export const tinyBarkRepo = (options: { readonly weights: "safetensors" | "torch"; readonly seed?: number }) =>
  Effect.gen(function*() {
    const checkpoint = yield* makeRandomCheckpoint({ ...presets.tiny, seed: options.seed ?? presets.tiny.seed })
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bark-repo-"))
    yield* writeBarkModelDir(dir, checkpoint, {})
    const files: Record<string, Uint8Array> = {}
    for (const rel of fs.readdirSync(dir, { recursive: true, encoding: "utf8" })) {
      const full = path.join(dir, rel)
      if (fs.statSync(full).isFile()) files[rel] = fs.readFileSync(full)
    }
    fs.rmSync(dir, { recursive: true, force: true })
    if (options.weights === "torch") {
      delete files["model.safetensors"]
      files["pytorch_model.bin"] = torchStateDict(checkpoint.tensors)
    }
    return { files, tensors: checkpoint.tensors }
  }).pipe(Effect.provide(NodeServices.layer))

/** The same repository without voices: no `speaker_embeddings/` and no `speaker_embeddings_path.json`. */
export const withoutVoices = (files: Readonly<Record<string, Uint8Array>>): Record<string, Uint8Array> =>
  Object.fromEntries(
    Object.entries(files).filter(([rel]) => !rel.startsWith("speaker_embeddings/") && rel !== "speaker_embeddings_path.json")
  )
