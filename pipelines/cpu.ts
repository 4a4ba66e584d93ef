/**
 * The cpu profile: the startup recipe on the CPU, whatever GPU the machine
 * has (BARK_DEVICE=cpu; the device stage then probes nothing).
 */
import * as Pipeline from "../src/pipeline/Pipeline.ts"
import startup from "./startup.ts"

export default startup.pipe(
  Pipeline.withConfig({ BARK_DEVICE: "cpu" }),
  Pipeline.rename("cpu", "Bark startup on the CPU execution provider")
)
