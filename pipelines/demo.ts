/**
 * The offline demo (`npm start`): the startup recipe on a random-weight Bark
 * made once in the cache — no download — then one sentence spoken to a WAV
 * file. Its weights are random, so the audio is noise: it proves the
 * machinery; `suno/bark-small` gives speech.
 *
 * Changes to `startup`: `demo-model` instead of fetch-weights (hands the
 * cached demo checkpoint on as a local model), the `ready` engine capped for
 * random weights (which never predict EOS), and `synthesize` at the end
 * (BARK_DEMO_OUT, default demo.wav; BARK_DEMO_TEXT).
 */
import { BarkEngine } from "../src/bark/engine/BarkEngine.ts"
import { ModelFiles } from "../src/bark/services.ts"
import * as DemoModel from "../src/dev/demo/demoModel.ts"
import * as DemoSynthesize from "../src/dev/demo/demoSynthesize.ts"
import * as Ready from "../src/bark/stages/ready.ts"
import * as Pipeline from "../src/pipeline/Pipeline.ts"
import startup from "./startup.ts"

export default startup.pipe(
  Pipeline.rename("demo", "Offline demo: random-weight Bark made in the cache, the full startup path, one sentence to demo.wav"),
  Pipeline.replace(ModelFiles, DemoModel.stage),
  Pipeline.replace(BarkEngine, Ready.make(DemoSynthesize.demoEngineOptions)),
  Pipeline.add(DemoSynthesize.stage)
)
