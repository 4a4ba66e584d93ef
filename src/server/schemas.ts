/**
 * The request bodies the service accepts, as Effect Schemas.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Temperatures } from "../bark/engine/BarkEngine.ts"

/** OpenAI's `POST /v1/audio/speech` body. `response_format` and `speed` are checked by the route, to say what is supported. */
export const SpeechRequest = Schema.Struct({
  /** Accepted and ignored: the service speaks with the model it loaded (GET /v1/models lists its names). */
  model: Schema.optionalKey(Schema.String),
  input: Schema.String,
  /** An OpenAI voice name (mapped to a Bark preset) or a Bark preset. */
  voice: Schema.optionalKey(Schema.String),
  /** Accepted and ignored: Bark takes no style prompt. */
  instructions: Schema.optionalKey(Schema.String),
  response_format: Schema.optionalKey(Schema.String),
  speed: Schema.optionalKey(Schema.Number),
  stream_format: Schema.optionalKey(Schema.String)
})
export type SpeechRequest = typeof SpeechRequest.Type

/** The native `POST /synthesize` body. */
export const SynthesizeRequest = Schema.Struct({
  text: Schema.String,
  voice: Schema.optionalKey(Schema.String),
  seed: Schema.optionalKey(Schema.Int),
  temperatures: Schema.optionalKey(Temperatures),
  /** Chunked audio, one long-form chunk at a time, as a WAV stream of unknown length. */
  stream: Schema.optionalKey(Schema.Boolean)
})
export type SynthesizeRequest = typeof SynthesizeRequest.Type
