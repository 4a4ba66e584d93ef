/**
 * Where the hub is, who we are to it, and whether we may talk to it at all,
 * read from the Hugging Face environment variables when used (never at import).
 *
 * @since 0.1.0
 */
import { Config, Option, Redacted } from "effect"

export interface HubSettings {
  /** Base URL of the hub, without a trailing slash. */
  readonly endpoint: string
  /** Access token, sent as `Authorization: Bearer …` to the endpoint's origin only. */
  readonly token: Option.Option<Redacted.Redacted<string>>
  /** When true no request is made; everything must come from the cache. */
  readonly offline: boolean
}

export const DEFAULT_ENDPOINT = "https://huggingface.co"

/**
 * `HF_ENDPOINT` (default https://huggingface.co), `HF_TOKEN` (redacted),
 * `HF_HUB_OFFLINE` (1/true/yes forbid the network).
 */
export const HubConfig: Config.Config<HubSettings> = Config.all({
  endpoint: Config.String("HF_ENDPOINT").pipe(
    Config.withDefault(DEFAULT_ENDPOINT),
    Config.map((url) => url.replace(/\/+$/, ""))
  ),
  token: Config.option(Config.Redacted("HF_TOKEN")).pipe(
    // An empty HF_TOKEN means "no token", as in huggingface_hub.
    Config.map(Option.filter((token) => Redacted.value(token) !== ""))
  ),
  offline: Config.Boolean("HF_HUB_OFFLINE").pipe(Config.withDefault(false))
})
