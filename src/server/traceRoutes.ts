/**
 * `GET /v1/traces/{id}`: the trace of a recent synthesis request, by the
 * `x-request-id` its response carried — the JSON document
 * (../observability/synthesisTrace.ts, `TraceDocument`), or with
 * `?format=svg` its timeline. The job routes answer a job's trace the same
 * way (`GET /v1/jobs/{id}/trace`), so both share `answer`.
 *
 * @since 0.5.0
 */
import { Effect, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as SynthesisTrace from "../observability/synthesisTrace.ts"
import { ApiError, badRequest } from "./ApiError.ts"
import type { TraceStore } from "./TraceStore.ts"

const Query = Schema.Struct({ format: Schema.optionalKey(Schema.Literals(["json", "svg"])) })

/** The document as JSON, or as an SVG timeline when the query asks `format=svg`. */
export const answer = (document: SynthesisTrace.TraceDocument) =>
  Effect.gen(function*() {
    const query = yield* HttpServerRequest.schemaSearchParams(Query).pipe(
      Effect.mapError(() => badRequest("InvalidQuery", "invalid query: format must be json or svg", "use ?format=svg for the timeline, or no query for JSON", "format"))
    )
    if (query.format !== "svg") return HttpServerResponse.jsonUnsafe(document)
    const title = `${document.recipe ?? "synthesis"} ${document.route}`
    const svg = yield* SynthesisTrace.toSvg(document.events, title).pipe(
      Effect.mapError((e) =>
        new ApiError({
          status: 409,
          tag: "TraceEmpty",
          message: `the trace of ${document.id} has no stage to draw yet: ${e.message}`,
          remediation: "ask again once the synthesis has run a stage, or ask for the JSON (no format)"
        })
      )
    )
    return HttpServerResponse.text(svg, { contentType: "image/svg+xml" })
  })

export const make = (traces: TraceStore) => {
  const read = Effect.gen(function*() {
    const id = (yield* HttpRouter.params)["id"] ?? ""
    const recorder = traces.get(id)
    if (recorder === undefined) {
      return yield* new ApiError({
        status: 404,
        tag: "TraceNotFound",
        message: traces.keep === 0
          ? `no trace "${id}": this replica keeps none (BARK_TRACE_KEEP=0)`
          : `no trace "${id}": it is not one of the last ${traces.keep} synthesis requests this replica answered`,
        remediation: traces.keep === 0
          ? "set BARK_TRACE_KEEP to the number of recent requests whose traces to keep (default 100)"
          : "use the x-request-id of a synthesis response from this replica, soon after it; raise BARK_TRACE_KEEP to keep more"
      })
    }
    return yield* answer(recorder.document())
  })
  return { read }
}
