/**
 * Every error the service answers with: an HTTP status and a JSON body in
 * OpenAI's error shape, so OpenAI's clients parse it into their error classes,
 * with this service's own fields beside it:
 * `{ error: { message, type, param, code, tag, remediation } }` — `type`
 * from the status (`invalid_request_error`, `rate_limit_error`,
 * `server_error`), `code` the tag in snake case, `param` the request field at
 * fault or null, `remediation` what to do about it. Handlers fail with
 * `ApiError`; `respond` turns it into the response.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpServerResponse } from "effect/http"

export class ApiError extends Schema.TaggedError<ApiError>()("ApiError", {
  status: Schema.Number,
  /** Names the kind of problem for clients and the `bark_errors_total{tag}` metric, e.g. "QueueFull". */
  tag: Schema.String,
  message: Schema.String,
  remediation: Schema.String,
  /** The request field at fault (OpenAI's `param`), e.g. "voice". */
  param: Schema.optionalKey(Schema.String),
  /** Extra response headers, e.g. Retry-After. */
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
}) {}

export const badRequest = (tag: string, message: string, remediation: string, param?: string) =>
  new ApiError({ status: 400, tag, message, remediation, ...(param === undefined ? {} : { param }) })

/** OpenAI's error `type` for a status. */
const typeOf = (status: number) => status === 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error"

/** "UnknownVoice" → "unknown_voice". */
const snakeCase = (tag: string) => tag.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase()

export const respond = (error: ApiError): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.jsonUnsafe(
    {
      error: {
        message: error.message,
        type: typeOf(error.status),
        param: error.param ?? null,
        code: snakeCase(error.tag),
        tag: error.tag,
        remediation: error.remediation
      }
    },
    { status: error.status, ...(error.headers === undefined ? {} : { headers: error.headers }) }
  )
