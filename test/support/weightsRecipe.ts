/**
 * A recipe that stops once the weights are loaded: environment, cache-dirs,
 * fetch-weights and safe-load. The CLI tests run it as a module path.
 */
import * as CacheDirs from "../../src/bark/stages/cacheDirs.ts"
import * as Environment from "../../src/bark/stages/environment.ts"
import * as FetchWeights from "../../src/bark/stages/fetchWeights.ts"
import * as SafeLoad from "../../src/bark/stages/safeLoad.ts"
import * as Pipeline from "../../src/pipeline/Pipeline.ts"

export default Pipeline.make("weights", "environment, cache, fetch and load the weights").pipe(
  Pipeline.add(Environment.stage),
  Pipeline.add(CacheDirs.stage),
  Pipeline.add(FetchWeights.stage),
  Pipeline.add(SafeLoad.stage)
)
