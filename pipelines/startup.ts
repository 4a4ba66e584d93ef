/**
 * The Bark startup recipe: probe the environment and prepare the cache.
 * Later stages (fetch-weights, safe-load, device, preload, compile, ready)
 * build on these.
 */
import * as Pipeline from "../src/pipeline/Pipeline.ts"
import * as CacheDirs from "../src/bark/stages/cacheDirs.ts"
import * as Environment from "../src/bark/stages/environment.ts"

export default Pipeline.make("startup", "Bark startup: environment, cache").pipe(
  Pipeline.add(Environment.stage),
  Pipeline.add(CacheDirs.stage)
)
