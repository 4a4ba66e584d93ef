/**
 * The cpu profile: the startup recipe with the device stage replaced by one
 * that always provides the CPU backend, whatever GPU the machine has.
 */
import * as Pipeline from "../src/pipeline/Pipeline.ts"
import * as Device from "../src/bark/stages/device.ts"
import { InferenceBackend } from "../src/onnx/InferenceBackend.ts"
import startup from "./startup.ts"

export default startup.pipe(
  Pipeline.replace(InferenceBackend, Device.cpuStage),
  Pipeline.rename("cpu", "Bark startup on the CPU execution provider")
)
