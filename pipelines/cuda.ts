/**
 * The cuda profile: the startup recipe on the GPU or not at all. The device
 * stage must start onnxruntime's CUDA execution provider (BARK_DEVICE=cuda,
 * BARK_DEVICE_STRICT=1); `--set BARK_DEVICE_STRICT=0` allows the CPU fallback.
 */
import * as Pipeline from "../src/pipeline/Pipeline.ts"
import startup from "./startup.ts"

export default startup.pipe(
  Pipeline.withConfig({ BARK_DEVICE: "cuda", BARK_DEVICE_STRICT: "1" }),
  Pipeline.rename("cuda", "Bark startup on CUDA: fails when the CUDA execution provider cannot start")
)
