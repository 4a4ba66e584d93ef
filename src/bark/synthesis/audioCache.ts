/**
 * Stage `audio-cache`: the same request — model, commit, weight type, recipe,
 * voice, spoken text, seed and every sampling parameter — returns the audio
 * stored the first time, without generating (./AudioCacheStore.ts keeps it,
 * content-addressed and bounded). On with BARK_AUDIO_CACHE=on. A request
 * without a seed draws a random one, so its audio is never the same twice:
 * it is not cached (the stage says so as its skip reason). A damaged or
 * unreadable entry is a miss with a warning, and is generated again.
 *
 * The stage's metadata `result` (`hit`, `miss`) feeds the service's
 * `bark_audio_cache_total` counter.
 *
 * @since 0.5.0
 */
import { Effect, Option } from "effect"
import * as Stage from "../../pipeline/Stage.ts"
import * as StageReporter from "../../pipeline/StageReporter.ts"
import * as Settings from "../settings.ts"
import { cacheKey } from "./AudioCacheStore.ts"
import { AudioCacheLookup, AudioCacheStore, SpokenText, SynthesisRequest, Voice } from "./services.ts"

const off = AudioCacheLookup.of({ hit: undefined, store: undefined })

export const stage = Stage.make({
  name: "audio-cache",
  purpose: "return the stored audio of an identical seeded request instead of generating",
  provides: AudioCacheLookup,
  needs: [SpokenText, Voice],
  skip: {
    when: Effect.map(Settings.audioCacheOn, (on) => on ? undefined : "BARK_AUDIO_CACHE is off"),
    value: Effect.succeed(off)
  },
  build: Effect.gen(function*() {
    const { model, revision, dtype, cache } = yield* AudioCacheStore
    const { options, sampling, recipe } = yield* SynthesisRequest
    const { text } = yield* SpokenText
    const voice = yield* Voice
    if (cache === undefined) {
      yield* StageReporter.skipped("the engine was started without the audio cache (BARK_AUDIO_CACHE=on at startup)")
      return off
    }
    const key = cacheKey({
      model,
      revision,
      dtype,
      recipe,
      voice: voice.name ?? null,
      text,
      seed: options.seed,
      sampler: options.sampler ?? "multinomial",
      params: {
        semantic: { ...sampling.semantic },
        coarse: { ...sampling.coarse },
        fine: { ...sampling.fine },
        carryHistory: options.carryHistory === true
      }
    })
    if (Option.isNone(key)) {
      yield* StageReporter.skipped("no seed: a random one is drawn, so the audio differs every time and is not cached")
      return off
    }
    const lookup = yield* cache.get(key.value)
    if (Option.isSome(lookup.problem)) yield* StageReporter.warn(lookup.problem.value.message, lookup.problem.value.remediation)
    yield* StageReporter.annotate({ result: Option.isSome(lookup.audio) ? "hit" : "miss", key: key.value })
    if (Option.isSome(lookup.audio)) return AudioCacheLookup.of({ hit: lookup.audio.value, store: undefined })
    return AudioCacheLookup.of({
      hit: undefined,
      store: (audio) =>
        cache.put(key.value, audio).pipe(
          Effect.asVoid,
          Effect.catch((e) => Effect.logWarning(`the audio cache could not store ${key.value}: ${e.message} (${e.remediation})`))
        )
    })
  })
})
