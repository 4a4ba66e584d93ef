/**
 * OpenAI's voice names on Bark's voice presets, so that clients written for
 * OpenAI's speech API (`voice: "alloy"`) work unchanged. Bark's own preset
 * names keep working: a name the table does not know goes to the engine as
 * it is.
 *
 * The default table spreads the eleven names over suno's English presets;
 * the voices OpenAI describes as female (coral, nova, shimmer) go to
 * `v2/en_speaker_9`, the only female English preset. BARK_VOICE_MAP
 * overrides entries: a JSON object (`{"alloy":"v2/de_speaker_3"}`) or the
 * path of a JSON file holding one.
 *
 * @since 0.3.0
 */
import { Config, ConfigProvider, Effect, Option, Schema } from "effect"
import * as fs from "node:fs"

export const OPENAI_VOICES = ["alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"] as const

export const defaultVoiceMap: Readonly<Record<string, string>> = {
  alloy: "v2/en_speaker_6",
  ash: "v2/en_speaker_3",
  ballad: "v2/en_speaker_8",
  coral: "v2/en_speaker_9",
  echo: "v2/en_speaker_1",
  fable: "v2/en_speaker_5",
  nova: "v2/en_speaker_9",
  onyx: "v2/en_speaker_2",
  sage: "v2/en_speaker_7",
  shimmer: "v2/en_speaker_9",
  verse: "v2/en_speaker_4"
}

const VoiceMap = Schema.Record(Schema.String, Schema.String)

const invalid = (message: string) => new Config.ConfigError(new ConfigProvider.SourceError({ message }))

/** BARK_VOICE_MAP (a JSON object, or a JSON file's path) over the default table. */
export const voiceMap: Config.Config<Readonly<Record<string, string>>> = Config.String("BARK_VOICE_MAP").pipe(
  Config.option,
  Config.mapEffect((raw) => {
    if (Option.isNone(raw) || raw.value.trim() === "") return Effect.succeed(defaultVoiceMap)
    const value = raw.value.trim()
    const inline = value.startsWith("{")
    return Effect.try({
      try: () => JSON.parse(inline ? value : fs.readFileSync(value, "utf8")) as unknown,
      catch: (e) =>
        invalid(`BARK_VOICE_MAP: ${inline ? "not valid JSON" : `cannot read ${value}`} (${(e as Error).message}); give a JSON object of voice → preset, or the path of a file holding one`)
    }).pipe(
      Effect.flatMap((parsed) =>
        Schema.decodeUnknownEffect(VoiceMap)(parsed).pipe(
          Effect.mapError(() => invalid(`BARK_VOICE_MAP must be a JSON object of voice names to Bark presets, e.g. {"alloy":"v2/en_speaker_6"}`))
        )
      ),
      Effect.map((overrides) => ({ ...defaultVoiceMap, ...Object.fromEntries(Object.entries(overrides).map(([k, v]) => [k.toLowerCase(), v])) }))
    )
  })
)

/** The Bark preset for `voice`: its table entry (case-insensitive), else the name as given. */
export const resolveVoice = (map: Readonly<Record<string, string>>, voice: string): string => map[voice.toLowerCase()] ?? voice
