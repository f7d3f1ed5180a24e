import { context, propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { expect } from "chai";
import { ConfigError } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { TraceScope } from "../../src/traceScope.js";
import {
  contextOfTraceParent,
  NO_TRACE,
  readTracingSettings,
  startTracing,
  traceIdsOf,
  traceParentOf,
  withSpan,
  type RunningTracing,
} from "../../src/tracing.js";

describe("tracing settings (OTEL_*)", () => {
  it("exports nothing by default and names the service after itself", () => {
    expect(readTracingSettings({}, "payment")).to.deep.equal({ serviceName: "payment", exporter: "none", otlpEndpoint: undefined });
  });

  it("takes the standard variables, the signal-specific endpoint first", () => {
    const env = { OTEL_TRACES_EXPORTER: "otlp", OTEL_SERVICE_NAME: "payment-eu", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" };
    expect(readTracingSettings(env, "payment")).to.deep.equal({ serviceName: "payment-eu", exporter: "otlp", otlpEndpoint: "http://collector:4318/v1/traces" });
    expect(readTracingSettings({ ...env, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://other:4318/t" }, "payment").otlpEndpoint).to.equal("http://other:4318/t");
  });

  it("refuses an exporter it does not have", () => {
    expect(() => readTracingSettings({ OTEL_TRACES_EXPORTER: "zipkin" }, "payment")).to.throw(ConfigError, /none, console or otlp/);
  });
});

describe("trace context handed along explicitly (no context manager)", () => {
  let tracing: RunningTracing;
  before(() => {
    tracing = startTracing({ serviceName: "tracing-test", exporter: "none" });
  });
  after(async () => {
    await tracing.shutdown();
    trace.disable();
    propagation.disable();
  });

  it("registers no context manager: nothing follows promises, so no hook runs on each one", async () => {
    await withSpan("outer", { parent: NO_TRACE }, async (_span, outer) => {
      const seen = await context.with(outer, () => Promise.resolve().then(() => context.active()));
      expect(seen).to.equal(ROOT_CONTEXT);
    });
  });

  it("gives a span's work a child context, in the same trace, that survives a traceparent round trip", async () => {
    await withSpan("parent", { parent: NO_TRACE }, async (_span, parent) => {
      const { traceId, spanId } = traceIdsOf(parent);
      expect(traceId).to.match(/^[0-9a-f]{32}$/);
      await withSpan("child", { parent }, async (_child, child) => {
        expect(traceIdsOf(child).traceId).to.equal(traceId);
        expect(traceIdsOf(child).spanId).to.not.equal(spanId);
        expect(traceParentOf(child)).to.match(new RegExp(`^00-${traceId}-${traceIdsOf(child).spanId}-0[01]$`));
        expect(traceIdsOf(contextOfTraceParent(traceParentOf(child)!))).to.deep.equal(traceIdsOf(child));
      });
    });
  });

  it("has no ids and no traceparent outside a trace", () => {
    expect(traceIdsOf(NO_TRACE)).to.deep.equal({});
    expect(traceParentOf(NO_TRACE)).to.equal(undefined);
    expect(contextOfTraceParent("")).to.equal(NO_TRACE);
    expect(contextOfTraceParent("not-a-traceparent")).to.equal(ROOT_CONTEXT);
  });

  it("tags a scope's log lines, and its children's, with its trace and span id and its fields", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger("tracing-test", "info", { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    await withSpan("work", { parent: NO_TRACE }, async (_span, work) => {
      const scope = new TraceScope(work, log, { paymentId: "p-1" });
      scope.log.child({ method: "Hold" }).info("about the payment");
      expect(lines[0]).to.include({ paymentId: "p-1", method: "Hold", ...traceIdsOf(work), msg: "about the payment" });
    });
    new TraceScope(NO_TRACE, log).log.info("outside");
    expect(lines[1]).to.not.have.property("traceId");
    log.info("not about a payment");
    expect(lines[2]).to.not.have.property("traceId");
  });
});
