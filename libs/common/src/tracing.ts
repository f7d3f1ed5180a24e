import {
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { ConfigError, readOptionalString, readString, type Env } from "./config.js";

export { SpanKind };

/** Where finished spans go (OTEL_TRACES_EXPORTER). */
export type TracesExporter = "none" | "console" | "otlp";

/** The tracing settings, read with {@link readTracingSettings}. */
export interface TracingSettings {
  /** OTEL_SERVICE_NAME, defaulting to the service's own name. */
  serviceName: string;
  /** OTEL_TRACES_EXPORTER: none (default), console (one JSON line per span on stdout) or otlp. */
  exporter: TracesExporter;
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces; unset = the exporter's default (localhost:4318). */
  otlpEndpoint?: string;
}

/** Reads the standard OTEL_* variables this project supports. */
export function readTracingSettings(env: Env, service: string): TracingSettings {
  const exporter = readString(env, "OTEL_TRACES_EXPORTER", "none").trim().toLowerCase();
  if (exporter !== "none" && exporter !== "console" && exporter !== "otlp")
    throw new ConfigError(`OTEL_TRACES_EXPORTER must be none, console or otlp, got "${exporter}"`);
  const tracesEndpoint = readOptionalString(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const baseEndpoint = readOptionalString(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  return {
    serviceName: readString(env, "OTEL_SERVICE_NAME", service),
    exporter,
    otlpEndpoint: tracesEndpoint ?? (baseEndpoint ? `${baseEndpoint.replace(/\/+$/, "")}/v1/traces` : undefined),
  };
}

/** The registered tracer provider; flushes the spans still buffered on shutdown. */
export interface RunningTracing {
  shutdown(): Promise<void>;
}

/**
 * Registers the global tracer provider and the W3C trace-context propagator, and no context
 * manager: a payment's trace context is handed along explicitly (a `TraceScope` per call and
 * per message, a `trace` option on outgoing calls and publishes). Why: on Node 20 the
 * AsyncLocalStorage context manager runs a hook on every promise of the process (an `await`
 * took ~195 ns with it and ~70 ns without, in a micro-benchmark; paired benchmark runs saw no
 * difference beyond their noise, README). With the exporter "none" every span still has its
 * trace and span ids (propagated and logged), but none is recorded: timing and attributes
 * nobody exports would only cost CPU on every call. With an exporter, OTEL_TRACES_SAMPLER
 * decides; its default follows the caller's sampled flag, so set the exporter on all three
 * services (a call from a service without one arrives marked "not sampled").
 */
export function startTracing(settings: TracingSettings): RunningTracing {
  const spanProcessors: SpanProcessor[] = [];
  if (settings.exporter === "console") spanProcessors.push(new SimpleSpanProcessor(new JsonLineSpanExporter()));
  if (settings.exporter === "otlp") spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.otlpEndpoint })));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": settings.serviceName }),
    spanProcessors,
    ...(settings.exporter === "none" ? { sampler: new AlwaysOffSampler() } : {}),
  });
  provider.register({ contextManager: null });
  return { shutdown: () => provider.shutdown() };
}

/** The line a span is printed as by the console exporter; see {@link JsonLineSpanExporter}. */
export interface SpanLine {
  otelSpan: {
    traceId: string;
    spanId: string;
    parentSpanId?: string;
    name: string;
    kind: string;
    service: string;
    startTimeMs: number;
    durationMs: number;
    status: string;
    attributes: Attributes;
  };
}

/**
 * The "console" exporter: one JSON object per finished span on stdout, beside the logs,
 * so a log pipeline (and the tests) can read them line by line.
 */
class JsonLineSpanExporter implements SpanExporter {
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) {
      const line: SpanLine = {
        otelSpan: {
          traceId: span.spanContext().traceId,
          spanId: span.spanContext().spanId,
          parentSpanId: span.parentSpanContext?.spanId,
          name: span.name,
          kind: SpanKind[span.kind],
          service: String(span.resource.attributes["service.name"] ?? ""),
          startTimeMs: span.startTime[0] * 1e3 + span.startTime[1] / 1e6,
          durationMs: span.duration[0] * 1e3 + span.duration[1] / 1e6,
          status: SpanStatusCode[span.status.code],
          attributes: span.attributes,
        },
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
    done({ code: ExportResultCode.SUCCESS });
  }

  async shutdown(): Promise<void> {}
}

const tracer = () => trace.getTracer("payments");

/** The context outside any trace: the parent of a trace's first span. */
export const NO_TRACE: Context = ROOT_CONTEXT;

/**
 * Runs `fn` inside a new span, child of `parent`, ending it when `fn` settles; `fn` is given
 * the span and the context to pass on to the work it starts. A thrown error marks the span
 * as failed and is rethrown.
 */
export async function withSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent: Context },
  fn: (span: Span, context: Context) => Promise<T>,
): Promise<T> {
  const span = startSpan(name, options, options.parent);
  try {
    return await fn(span, trace.setSpan(options.parent, span));
  } catch (err) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}

/** Starts a span, child of `parent`, that the caller ends; use {@link withSpan} when the work is one function. */
export function startSpan(name: string, options: { kind?: SpanKind; attributes?: Attributes }, parent: Context): Span {
  return tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent);
}

/** Writes the trace context `ctx` (traceparent, tracestate) into a carrier through `set`. */
export function injectTraceContext<C>(carrier: C, set: (carrier: C, key: string, value: string) => void, ctx: Context): C {
  const setter: TextMapSetter<C> = { set };
  propagation.inject(ctx, carrier, setter);
  return carrier;
}

/** Reads a trace context from a carrier through `get`; {@link NO_TRACE} when there is none. */
export function extractTraceContext<C>(carrier: C, get: (carrier: C, key: string) => string | undefined): Context {
  const getter: TextMapGetter<C> = { get, keys: () => [] };
  return propagation.extract(ROOT_CONTEXT, carrier, getter);
}

/** `ctx` as a W3C traceparent, to store and continue later; undefined outside a trace. */
export function traceParentOf(ctx: Context): string | undefined {
  return injectTraceContext<Record<string, string>>({}, (carrier, key, value) => (carrier[key] = value), ctx).traceparent;
}

/** A context whose parent is `traceParent` (as stored by {@link traceParentOf}); {@link NO_TRACE} when it is empty or malformed. */
export function contextOfTraceParent(traceParent: string): Context {
  return traceParent ? extractTraceContext({ traceparent: traceParent }, (carrier, key) => carrier[key as "traceparent"]) : ROOT_CONTEXT;
}

/** The trace and span id of the span in `ctx`, for log lines; empty outside a trace. */
export function traceIdsOf(ctx: Context): { traceId: string; spanId: string } | Record<string, never> {
  const spanContext = trace.getSpanContext(ctx);
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  return { traceId: spanContext.traceId, spanId: spanContext.spanId };
}
