/**
 * The Bark startup recipe: each step of the original service's startup as a
 * stage with its own success, warning, skip or fatal outcome. The device is
 * chosen before preload because onnxruntime places a session on its
 * execution provider when the session is created.
 */
import * as Pipeline from "../src/pipeline/Pipeline.ts"
import * as CacheDirs from "../src/bark/stages/cacheDirs.ts"
import * as Compile from "../src/bark/stages/compile.ts"
import * as Device from "../src/bark/stages/device.ts"
import * as Environment from "../src/bark/stages/environment.ts"
import * as FetchWeights from "../src/bark/stages/fetchWeights.ts"
import * as Preload from "../src/bark/stages/preload.ts"
import * as Ready from "../src/bark/stages/ready.ts"
import * as SafeLoad from "../src/bark/stages/safeLoad.ts"

export default Pipeline.make("startup", "Bark startup: environment, cache, weights, device, sessions, compile, ready").pipe(
  Pipeline.add(Environment.stage),
  Pipeline.add(CacheDirs.stage),
  Pipeline.add(FetchWeights.stage),
  Pipeline.add(SafeLoad.stage),
  Pipeline.add(Device.stage),
  Pipeline.add(Preload.stage),
  Pipeline.add(Compile.stage),
  Pipeline.add(Ready.stage)
)
