/**
 * Where the checkpoint tests find their inputs: the torch-written fixtures in
 * test/fixtures/checkpoint (see make_fixtures.py there) and the shared golden
 * case next to the repository.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

export const fixturePath = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/checkpoint/${name}`, import.meta.url))

export const goldenPath = (name: string): string =>
  fileURLToPath(new URL(`../../../shared/fixtures/golden/v1_small_mixed/${name}`, import.meta.url))

export const readFixture = (name: string): Uint8Array => new Uint8Array(readFileSync(fixturePath(name)))

export const readGolden = (name: string): Uint8Array => new Uint8Array(readFileSync(goldenPath(name)))
