/**
 * Request ids: every response of the service carries `x-request-id`. A
 * client's own id is echoed when it is one this service can use as a key
 * (1–128 characters of `A–Z a–z 0–9 . _ : -`, which covers UUIDs, ULIDs and
 * the ids proxies such as Envoy and nginx generate); anything else, or
 * none, gets a fresh UUID. The id names the request's trace
 * (`GET /v1/traces/{id}`), annotates its logs and its span, so one string
 * ties a client's report to what the service recorded.
 *
 * @since 0.5.0
 */
import { Context } from "effect"
import type { Recorder } from "../observability/synthesisTrace.ts"

/** The header, in the lower case Node hands headers over in. */
export const HEADER = "x-request-id"

const valid = /^[A-Za-z0-9._:-]{1,128}$/

/** Whether a client's id is echoed as it is. */
export const isValid = (id: string | undefined): id is string => id !== undefined && valid.test(id)

/** The client's id when valid, else a fresh one. */
export const fromHeader = (header: string | undefined): string => isValid(header) ? header : crypto.randomUUID()

/** The request being answered: its id, the route it matched (as metrics name it, e.g. `/v1/audio/speech`), and its trace. */
export class CurrentRequest extends Context.Service<CurrentRequest, {
  readonly id: string
  readonly route: string
  /** The request's trace recorder, begun (and kept, see ./TraceStore.ts) at the first call. */
  readonly trace: () => Recorder
}>()("bark-pipeline/CurrentRequest") {}
