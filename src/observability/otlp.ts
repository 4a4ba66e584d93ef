/**
 * OpenTelemetry export over OTLP/HTTP with Effect's own exporter
 * (`effect/observability`): spans, metrics and logs go to a collector when the
 * standard `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and nothing changes when it is
 * not (the layer is then `Layer.empty`).
 *
 * Settings, read through `Config` (environment variables by default), as the
 * OpenTelemetry SDK specification names them; an empty value counts as unset:
 *
 * - `OTEL_EXPORTER_OTLP_ENDPOINT`: base URL; signals go to `/v1/traces`,
 *   `/v1/metrics` and `/v1/logs` below it. `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 *   (`_METRICS_`, `_LOGS_`) is a signal's full URL and wins over the base; a
 *   signal with neither is not exported.
 * - `OTEL_SERVICE_NAME` (default `service.name` from `OTEL_RESOURCE_ATTRIBUTES`,
 *   then `bark-pipeline`); `OTEL_RESOURCE_ATTRIBUTES`: `k=v,k2=v2`, keys and
 *   values percent-decoded. `service.version` is this package's version unless
 *   the attributes name one.
 * - `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/json` (the default here) or
 *   `http/protobuf`. gRPC is not supported.
 * - `OTEL_EXPORTER_OTLP_HEADERS` (and `_TRACES_`/`_METRICS_`/`_LOGS_`):
 *   `k=v,...`, percent-decoded, sent with every request (API keys).
 * - `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`:
 *   a signal is exported when its list includes `otlp` (the default); `none`
 *   turns it off. `OTEL_SDK_DISABLED=true` turns everything off.
 * - Export intervals in milliseconds: `OTEL_BSP_SCHEDULE_DELAY` (spans, default
 *   1000), `OTEL_METRIC_EXPORT_INTERVAL` (default 10000), `OTEL_BLRP_SCHEDULE_DELAY`
 *   (logs, default 1000). Metrics are cumulative.
 *
 * Nothing is lost at exit: each exporter flushes what it holds when the
 * layer's scope closes (a final metrics snapshot included), waiting up to 3
 * seconds for the collector, so a short `bark-pipeline run` exports all of its
 * spans. An exporter whose collector failed is paused for 60 seconds and its
 * buffer dropped, and a paused exporter does not flush at exit.
 *
 * Metrics are read from the `Metric.MetricRegistry` in the context where the
 * layer is built; a program that provides a registry of its own must build
 * this layer inside it for those metrics to be exported. The log exporter is
 * added to the existing loggers; a `Logger.layer([...])` provided inside this
 * layer (closer to the program) replaces it.
 *
 * @since 0.4.0
 */
import { Cause, Config, Duration, Effect, Layer, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpLogger, OtlpMetrics, OtlpSerialization, OtlpTracer } from "effect/observability"
import { createRequire } from "node:module"

/** The `service.name` when neither `OTEL_SERVICE_NAME` nor the resource attributes set one. */
export const DEFAULT_SERVICE_NAME = "bark-pipeline"

/** This package's version, found by the package's own name (the same from `src/` and `dist/src/`). */
const packageVersion = (): string | undefined => {
  try {
    const pkg: unknown = createRequire(import.meta.url)("bark-pipeline/package.json")
    const version = (pkg as { readonly version?: unknown }).version
    return typeof version === "string" ? version : undefined
  } catch {
    return undefined
  }
}

/** A setting that is `undefined` when absent or blank, else read with `config`. */
const optional = <A>(name: string, config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.String(name).pipe(
    Config.withDefault(""),
    Config.flatMap((raw): Config.Config<A | undefined> => raw.trim() === "" ? Config.succeed(undefined) : config)
  )

const keyValues = (name: string) =>
  optional(
    name,
    Config.Record(Schema.StringFromUriComponent, Schema.StringFromUriComponent, name, {
      trim: true,
      keepEmptyValues: true
    })
  )

const millis = (name: string) => optional(name, Config.Int(name).pipe(Config.map(Duration.millis)))

const exporterEnabled = (name: string) =>
  optional(name, Config.String(name)).pipe(
    Config.map((list) => list === undefined || list.split(",").some((e) => e.trim().toLowerCase() === "otlp"))
  )

type Signal = "TRACES" | "METRICS" | "LOGS"

/** A signal's URL: its own endpoint as given, else `<base>/v1/<signal>`; `undefined` when neither is set. */
const endpoint = (signal: Signal) =>
  Config.all({
    own: optional(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`, Config.URL(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`)),
    base: optional("OTEL_EXPORTER_OTLP_ENDPOINT", Config.URL("OTEL_EXPORTER_OTLP_ENDPOINT"))
  }).pipe(
    Config.map(({ base, own }) => {
      if (own !== undefined) return own.toString()
      if (base === undefined) return undefined
      const url = new URL(base)
      url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/${signal.toLowerCase()}`
      return url.toString()
    })
  )

const signal = (name: Signal, exporterVar: string) =>
  Config.all({
    url: endpoint(name),
    enabled: exporterEnabled(exporterVar),
    headers: keyValues(`OTEL_EXPORTER_OTLP_${name}_HEADERS`)
  }).pipe(Config.map(({ enabled, headers, url }) => (enabled && url !== undefined ? { url, headers } : undefined)))

/**
 * Where and how to export one signal.
 *
 * @since 0.4.0
 */
export interface SignalSettings {
  readonly url: string
  readonly headers: Readonly<Record<string, string>> | undefined
}

/**
 * The export settings read from the environment; `undefined` signals are not
 * exported.
 *
 * @since 0.4.0
 */
export interface OtlpSettings {
  readonly traces: SignalSettings | undefined
  readonly metrics: SignalSettings | undefined
  readonly logs: SignalSettings | undefined
  readonly protocol: "http/json" | "http/protobuf"
  readonly resource: {
    readonly serviceName: string
    readonly serviceVersion: string | undefined
    readonly attributes: Readonly<Record<string, string>>
  }
  readonly tracesInterval: Duration.Duration
  readonly metricsInterval: Duration.Duration
  readonly logsInterval: Duration.Duration
}

/**
 * Reads {@link OtlpSettings} (see the module comment for the variables).
 *
 * @since 0.4.0
 */
export const settings: Config.Config<OtlpSettings> = Config.all({
  disabled: optional("OTEL_SDK_DISABLED", Config.Boolean("OTEL_SDK_DISABLED")),
  traces: signal("TRACES", "OTEL_TRACES_EXPORTER"),
  metrics: signal("METRICS", "OTEL_METRICS_EXPORTER"),
  logs: signal("LOGS", "OTEL_LOGS_EXPORTER"),
  baseHeaders: keyValues("OTEL_EXPORTER_OTLP_HEADERS"),
  protocol: optional(
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    Config.Literals(["http/json", "http/protobuf"], "OTEL_EXPORTER_OTLP_PROTOCOL")
  ),
  serviceName: optional("OTEL_SERVICE_NAME", Config.String("OTEL_SERVICE_NAME")),
  attributes: keyValues("OTEL_RESOURCE_ATTRIBUTES"),
  tracesInterval: millis("OTEL_BSP_SCHEDULE_DELAY"),
  metricsInterval: millis("OTEL_METRIC_EXPORT_INTERVAL"),
  logsInterval: millis("OTEL_BLRP_SCHEDULE_DELAY")
}).pipe(
  Config.map((c): OtlpSettings => {
    const withHeaders = (s: SignalSettings | undefined) =>
      c.disabled === true || s === undefined ? undefined : { url: s.url, headers: s.headers ?? c.baseHeaders }
    const { "service.name": attrName, "service.version": attrVersion, ...attributes } = c.attributes ?? {}
    return {
      traces: withHeaders(c.traces),
      metrics: withHeaders(c.metrics),
      logs: withHeaders(c.logs),
      protocol: c.protocol ?? "http/json",
      resource: {
        serviceName: c.serviceName?.trim() || attrName || DEFAULT_SERVICE_NAME,
        serviceVersion: attrVersion || packageVersion(),
        attributes
      },
      tracesInterval: c.tracesInterval ?? Duration.seconds(1),
      metricsInterval: c.metricsInterval ?? Duration.seconds(10),
      logsInterval: c.logsInterval ?? Duration.seconds(1)
    }
  })
)

/** How long the exit flush waits for the collector. */
const shutdownTimeout = Duration.seconds(3)

/**
 * The exporters for `s`, `Layer.empty` when no signal is exported. Each
 * exporter flushes on scope close; all share one `OtlpExporter.Flusher`.
 *
 * @since 0.4.0
 */
export const fromSettings = (s: OtlpSettings): Layer.Layer<never> => {
  const resource = s.resource
  const layers: Array<Layer.Layer<never>> = []
  const common = (signal: SignalSettings) => ({ url: signal.url, headers: signal.headers, resource, shutdownTimeout })
  const serialization = s.protocol === "http/protobuf" ? OtlpSerialization.layerProtobuf : OtlpSerialization.layerJson
  const deps = Layer.mergeAll(FetchHttpClient.layer, serialization)
  if (s.traces !== undefined) {
    layers.push(OtlpTracer.layer({ ...common(s.traces), exportInterval: s.tracesInterval }).pipe(Layer.provide(deps)))
  }
  if (s.metrics !== undefined) {
    layers.push(OtlpMetrics.layer({ ...common(s.metrics), exportInterval: s.metricsInterval }).pipe(Layer.provide(deps)))
  }
  if (s.logs !== undefined) {
    layers.push(OtlpLogger.layer({ ...common(s.logs), exportInterval: s.logsInterval }).pipe(Layer.provide(deps)))
  }
  const [first, ...rest] = layers
  return first === undefined ? Layer.empty : Layer.mergeAll(first, ...rest)
}

/**
 * Exports spans, metrics and logs over OTLP/HTTP as the environment says (see
 * the module comment); `Layer.empty` when no endpoint is set. Provide it
 * outermost so every span of the program is under its tracer, and so its
 * scope closes (and flushes) last.
 *
 * @since 0.4.0
 */
export const layer: Layer.Layer<never, Config.ConfigError> = Layer.unwrap(Effect.map(settings, fromSettings))

/**
 * {@link layer} for long-running commands: a bad OTEL_* setting logs a
 * warning that names it and the program runs without export, rather than
 * failing to start.
 *
 * @since 0.4.0
 */
export const layerOrWarn: Layer.Layer<never> = layer.pipe(
  Layer.catchCause((cause) =>
    Layer.effectDiscard(Effect.logWarning(
      `OpenTelemetry export is off: ${Cause.pretty(cause).split("\n")[0]}; fix the OTEL_* variable named above, or unset OTEL_EXPORTER_OTLP_ENDPOINT`
    ))
  )
)
