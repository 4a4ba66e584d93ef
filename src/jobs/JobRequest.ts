/**
 * What a synthesis job asks for: the body of `POST /synthesize` (text of any
 * length, voice, seed, temperatures, history carry-over) plus the `format`
 * its audio is stored in. Checked twice: when it is enqueued (a bad request
 * is a 400 and never reaches Redis) and again by the worker that takes it
 * (whatever sits in Redis, a malformed job is dead-lettered at once, never
 * retried and never crashes the worker).
 *
 * @since 0.4.0
 */
import { Effect, Schema } from "effect"
import { Temperatures } from "../bark/engine/BarkEngine.ts"
import { available, SPEECH_FORMATS, type SpeechFormat } from "../audio/encoders.ts"

export const JobRequest = Schema.Struct({
  text: Schema.String,
  voice: Schema.optionalKey(Schema.String),
  /** Picked at enqueue when absent, so a retried job gives the same audio. */
  seed: Schema.optionalKey(Schema.Int),
  temperatures: Schema.optionalKey(Temperatures),
  /** Each sentence's tokens prompt the next one (see SynthesisOptions.carryHistory). */
  carryHistory: Schema.optionalKey(Schema.Boolean),
  /** How the audio is stored: wav (the default), mp3, opus, aac, flac or pcm. */
  format: Schema.optionalKey(Schema.String)
})
export type JobRequest = typeof JobRequest.Type

/** A request checked and completed: the format and the seed are always set. */
export interface AcceptedJob extends JobRequest {
  readonly seed: number
  readonly format: SpeechFormat
}

export class JobRejected extends Schema.TaggedError<JobRejected>()("JobRejected", {
  message: Schema.String,
  remediation: Schema.String,
  /** The request field at fault. */
  param: Schema.optionalKey(Schema.String)
}) {}

export interface CheckOptions {
  readonly maxTextChars: number
  /** The voices the engine knows, when one is loaded here; workers check again with theirs. */
  readonly voices?: ReadonlyArray<string> | undefined
  /** Picks the seed of a request without one. */
  readonly pickSeed?: () => number
}

const decode = Schema.decodeUnknownEffect(JobRequest)

const reject = (message: string, remediation: string, param?: string) =>
  Effect.fail(new JobRejected({ message, remediation, ...(param === undefined ? {} : { param }) }))

const temperatureNames = ["semantic", "coarse", "fine"] as const

/** Decodes and checks a job request, filling in the format and the seed. */
export const check = (input: unknown, options: CheckOptions): Effect.Effect<AcceptedJob, JobRejected> =>
  Effect.gen(function*() {
    const request = yield* decode(input, { errors: "all" }).pipe(
      Effect.mapError((e) =>
        new JobRejected({ message: `invalid job request: ${e.message}`, remediation: "fix the fields named above (see docs/jobs.md)" })
      )
    )
    if (request.text.trim() === "") return yield* reject("the text is empty", "give some text to speak", "text")
    if (request.text.length > options.maxTextChars) {
      return yield* reject(
        `the text has ${request.text.length} characters, more than the job limit of ${options.maxTextChars} (BARK_JOB_MAX_TEXT_CHARS)`,
        "split the text into several jobs, or raise BARK_JOB_MAX_TEXT_CHARS",
        "text"
      )
    }
    const format = request.format ?? "wav"
    if (!(SPEECH_FORMATS as ReadonlyArray<string>).includes(format)) {
      return yield* reject(`format "${format}" is not supported`, `use one of ${SPEECH_FORMATS.join(", ")}`, "format")
    }
    yield* available(format as SpeechFormat).pipe(Effect.catch((e) => reject(e.message, e._tag === "EncoderUnavailable" ? e.remediation : "use another format", "format")))
    if (request.voice !== undefined && options.voices !== undefined && !options.voices.includes(request.voice)) {
      return yield* reject(`unknown voice "${request.voice}"`, "use a voice from GET /v1/voices", "voice")
    }
    for (const name of temperatureNames) {
      const t = request.temperatures?.[name]
      if (t !== undefined && t !== null && !(t > 0 && t <= 5)) {
        return yield* reject(`temperatures.${name} = ${t} is outside (0, 5]`, "send a temperature above 0 (0.7 is Bark's default)", "temperatures")
      }
    }
    const seed = request.seed ?? (options.pickSeed ?? randomSeed)()
    return { ...request, format: format as SpeechFormat, seed }
  })

const randomSeed = () => Math.floor(Math.random() * 2 ** 31)
