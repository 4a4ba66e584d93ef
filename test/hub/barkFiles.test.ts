import { assert, describe, it } from "@effect/vitest"
import { barkFiles, voiceFiles } from "../../src/hub/barkFiles.ts"

const listing = (...names: Array<string>) => names.map((rfilename) => ({ rfilename }))

describe("barkFiles", () => {
  it("prefers model.safetensors when the revision lists it", () => {
    const files = barkFiles(listing("config.json", "model.safetensors", "pytorch_model.bin"), [])
    assert.include(files, "model.safetensors")
    assert.notInclude(files, "pytorch_model.bin")
  })

  it("falls back to pytorch_model.bin and always names the configs and vocabulary", () => {
    const files = barkFiles(listing("pytorch_model.bin", "README.md", "tokenizer.json"), [])
    assert.sameMembers([...files], [
      "config.json",
      "generation_config.json",
      "vocab.txt",
      "speaker_embeddings_path.json",
      "pytorch_model.bin"
    ])
  })

  it("adds the three prompt arrays of each requested voice", () => {
    const files = barkFiles(listing(), ["v2/en_speaker_6", "announcer"])
    for (const kind of ["semantic", "coarse", "fine"]) {
      assert.include(files, `speaker_embeddings/v2/en_speaker_6_${kind}_prompt.npy`)
      assert.include(files, `speaker_embeddings/announcer_${kind}_prompt.npy`)
    }
    assert.lengthOf(voiceFiles("v2/de_speaker_0"), 3)
  })
})
