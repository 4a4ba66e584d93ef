/**
 * One short run of every sub-model, so that the first request does not pay
 * for onnxruntime's lazy initialisation: the compile stage runs it on the
 * main thread's sessions, the worker engine on its own.
 *
 * @since 0.2.0
 */
import { Duration, Effect } from "effect"
import { BARK_CODEBOOKS } from "./codec/config.ts"
import type { BarkModels } from "./models.ts"

const time = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration]) => Math.round(Duration.toMillis(duration)))

/**
 * One short run of every sub-model: a prefill and a step of the GPTs, one
 * fine pass, a four-frame codec decode. Returns milliseconds per sub-model.
 */
export const warmUp = Effect.fn("warmUp")(function*(models: BarkModels) {
  const gpt = (m: BarkModels["semantic"]) => Effect.flatMap(m.prefill(Int32Array.of(0, 1, 2)), (p) => m.step(p.state, 3))
  const frames = 4
  return {
    semantic: yield* time(gpt(models.semantic)),
    coarse: yield* time(gpt(models.coarse)),
    // A few frames: every weight is read and every kernel initialised, without a whole window's compute.
    fine: yield* time(models.fine.run(new Int32Array(frames * models.fine.nCodes), models.fine.nCodes - 1)),
    codec: yield* time(models.codec.decode(new Int32Array(BARK_CODEBOOKS * frames), frames))
  }
})

