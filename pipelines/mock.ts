/**
 * The mock profile: the environment and cache stages of the startup recipe,
 * then the Mock engine instead of weights and sessions — deterministic audio
 * in milliseconds, for development and for tests of everything above the
 * engine (`bark-pipeline serve --profile mock`).
 */
import * as Pipeline from "../src/pipeline/Pipeline.ts"
import * as CacheDirs from "../src/bark/stages/cacheDirs.ts"
import * as Environment from "../src/bark/stages/environment.ts"
import * as MockEngine from "../src/bark/engine/mock.ts"

export default Pipeline.make("mock", "Mock engine: environment, cache, deterministic audio without weights").pipe(
  Pipeline.add(Environment.stage),
  Pipeline.add(CacheDirs.stage),
  Pipeline.add(MockEngine.stage)
)
