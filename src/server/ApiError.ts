/**
 * Every error the service answers with: an HTTP status and the JSON body
 * `{ error: { tag, message, remediation } }`. Handlers fail with `ApiError`;
 * `respond` turns it into the response.
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
  /** Extra response headers, e.g. Retry-After. */
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
}) {}

export const badRequest = (tag: string, message: string, remediation: string) =>
  new ApiError({ status: 400, tag, message, remediation })

export const respond = (error: ApiError): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.jsonUnsafe(
    { error: { tag: error.tag, message: error.message, remediation: error.remediation } },
    { status: error.status, ...(error.headers === undefined ? {} : { headers: error.headers }) }
  )
