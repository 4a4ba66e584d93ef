/**
 * Reading what an OTLP/HTTP exporter sent to a test's receiver: the spans of
 * an export body (`/v1/traces`, OTLP JSON), decoded into plain records.
 */

/** OTLP's key-value attribute list as a plain record. */
export const attributeValues = (kvs: ReadonlyArray<any> = []): Record<string, unknown> =>
  Object.fromEntries(kvs.map((kv) => [kv.key, kv.value.stringValue ?? kv.value.intValue ?? kv.value.doubleValue ?? kv.value.boolValue]))

export interface ExportedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  /** The exporting resource's `service.name`. */
  readonly service: string
  readonly attributes: Record<string, unknown>
  readonly status: { readonly code?: number; readonly message?: string }
  readonly events: ReadonlyArray<{ readonly name: string }>
}

/** Every span of one export body. */
export const spansOf = (body: any): Array<ExportedSpan> =>
  (body.resourceSpans as Array<any>).flatMap((rs) =>
    (rs.scopeSpans as Array<any>).flatMap((ss) =>
      (ss.spans as Array<any>).map((s): ExportedSpan => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId,
        name: s.name,
        service: String(attributeValues(rs.resource?.attributes)["service.name"]),
        attributes: attributeValues(s.attributes),
        status: s.status ?? {},
        events: s.events ?? []
      }))
    )
  )
