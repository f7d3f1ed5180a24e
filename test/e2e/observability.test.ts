import { status, type Metadata } from "@grpc/grpc-js";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { callUnary } from "@payments/common/grpc/client";
import { checkHealth } from "@payments/common/grpc/healthCheck";
import type { SpanLine } from "@payments/common/tracing";
import { PaymentStatus, type Payment } from "@payments/contracts/gen/payments/v1/payment";
import type { CreatePaymentRequest, PaymentServiceClient } from "@payments/contracts/gen/payments/v1/payment_service";
import { expectStatus } from "@payments/testing/grpcStatus";
import { freePort } from "../../scripts/lib/freePort.js";
import { RunningSystem } from "../support/system.js";

type Span = SpanLine["otelSpan"];
type ServiceName = "payment" | "processing" | "gateway";

function topUp(): CreatePaymentRequest {
  return {
    idempotencyKey: `obs-${Math.random().toString(36).slice(2)}`,
    serviceId: "mobile-top-up",
    details: { kind: { $case: "mobileTopUp", value: { phoneNumber: "+14155550123" } } },
    amount: { currencyCode: "USD", amountMinor: 1_234n },
  };
}

/** Polls `probe` until it returns something other than undefined, or fails after `timeoutMs`. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The value of one sample of a Prometheus text exposition, e.g. `name{a="b"}`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => present[k] === v)) return Number(match[3]);
  }
  return undefined;
}

describe("observability: metrics, trace propagation, log correlation and dependency health (three processes)", function () {
  this.timeout(120_000);
  let system: RunningSystem;
  let client: PaymentServiceClient;
  const metricsPorts = {} as Record<ServiceName, number>;

  before(async () => {
    for (const name of ["payment", "processing", "gateway"] as const) metricsPorts[name] = await freePort();
    const common = { OTEL_TRACES_EXPORTER: "console", METRICS_REFRESH_MS: "200", HEALTH_CHECK_INTERVAL_MS: "200", HEALTH_CHECK_TIMEOUT_MS: "500" };
    system = await RunningSystem.start({
      env: {
        payment: { ...common, METRICS_PORT: String(metricsPorts.payment) },
        processing: { ...common, METRICS_PORT: String(metricsPorts.processing) },
        gateway: { ...common, METRICS_PORT: String(metricsPorts.gateway) },
      },
    });
    client = system.paymentClient();
  });
  after(async () => system?.stop());
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(system?.recentLogs());
  });

  const scrape = async (name: ServiceName) => {
    const res = await fetch(`http://127.0.0.1:${metricsPorts[name]}/metrics`);
    expect(res.status).to.equal(200);
    return res.text();
  };
  const spans = (): Span[] =>
    system.logLines().flatMap((line) => {
      const json = line.slice(line.indexOf("] ") + 2);
      if (!json.startsWith('{"otelSpan"')) return [];
      return [(JSON.parse(json) as SpanLine).otelSpan];
    });
  const logRecords = (service: ServiceName) =>
    system.logLines().flatMap((line) => {
      if (!line.startsWith(`[${service}] {`)) return [];
      try {
        return [JSON.parse(line.slice(service.length + 3)) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  const settled = async (paymentId: string, metadata: Metadata): Promise<Payment> =>
    eventually("the payment to settle", async () => {
      const { payment } = await callUnary(client.getPayment.bind(client), { paymentId }, { metadata });
      return payment && payment.status !== PaymentStatus.PAYMENT_STATUS_CREATED ? payment : undefined;
    });

  let paymentId: string;

  before(async () => {
    await system.fund("obs-user", "USD", 100_000n);
    const metadata = await system.auth("obs-user");
    paymentId = (await callUnary(client.createPayment.bind(client), topUp(), { metadata })).payment!.id;
    expect((await settled(paymentId, metadata)).status).to.equal(PaymentStatus.PAYMENT_STATUS_APPROVED);
  });

  it("carries one trace from CreatePayment through Hold, the publish, the gateway's consume and provider call, to Settle", async () => {
    const byName = (all: Span[], service: string, name: string) => all.find((s) => s.service === service && s.name === name);
    const trace = await eventually("every span of the payment's trace", () => {
      const all = spans();
      const create = all.find((s) => s.name === "payments.v1.PaymentService/CreatePayment" && s.attributes["payment.id"] === paymentId);
      if (!create) return undefined;
      const inTrace = all.filter((s) => s.traceId === create.traceId);
      const found = {
        create,
        hold: byName(inTrace, "processing", "payments.processing.v1.ProcessingService/Hold"),
        publish: inTrace.find((s) => s.service === "payment" && s.kind === "PRODUCER"),
        consume: inTrace.find((s) => s.service === "gateway" && s.kind === "CONSUMER"),
        charge: byName(inTrace, "gateway", "provider charge"),
        settle: byName(inTrace, "processing", "payments.processing.v1.ProcessingService/Settle"),
      };
      return Object.values(found).every(Boolean) ? (found as Record<keyof typeof found, Span>) : undefined;
    });
    expect(trace.create.kind).to.equal("SERVER");
    expect(trace.hold.parentSpanId, "Hold is a child of CreatePayment").to.equal(trace.create.spanId);
    expect(trace.publish.parentSpanId, "the publish is a child of CreatePayment").to.equal(trace.create.spanId);
    expect(trace.consume.parentSpanId, "the consume continues the publish (NATS headers)").to.equal(trace.publish.spanId);
    expect(trace.consume.attributes["payment.id"]).to.equal(paymentId);
    expect(trace.charge.parentSpanId, "the provider call is inside the consume").to.equal(trace.consume.spanId);
    expect(trace.settle.parentSpanId, "Settle continues the consume (gRPC metadata)").to.equal(trace.consume.spanId);
    expect(trace.settle.status).to.equal("UNSET");
  });

  it("puts the payment id and the trace id on the log lines about a payment, in every service", async () => {
    const traceId = spans().find((s) => s.name === "payments.v1.PaymentService/CreatePayment" && s.attributes["payment.id"] === paymentId)!.traceId;
    const about = (service: ServiceName, msg: string) => logRecords(service).find((r) => r.paymentId === paymentId && r.msg === msg);
    for (const [service, msg] of [["payment", "payment held"], ["processing", "hold"], ["processing", "settle"], ["gateway", "payment settled"]] as const) {
      const record = about(service, msg);
      expect(record, `${service}: "${msg}"`).to.not.equal(undefined);
      expect(record!.traceId, `${service}: "${msg}"`).to.equal(traceId);
    }
    const everything = system.logLines().join("\n");
    expect(everything).to.not.match(/Bearer\s+ey/);
  });

  it("counts RPCs, payments, settlements, provider calls, the saga duration and the gauges on /metrics", async () => {
    await expectStatus(callUnary(client.getAccount.bind(client), {}), status.UNAUTHENTICATED);

    const payment = await scrape("payment");
    const rpc = { grpc_service: "payments.v1.PaymentService", grpc_method: "CreatePayment", grpc_code: "OK" };
    expect(sample(payment, "grpc_server_handled_total", rpc)).to.equal(1);
    expect(sample(payment, "grpc_server_handling_seconds_count", rpc)).to.equal(1);
    expect(sample(payment, "grpc_server_handled_total", { grpc_method: "GetAccount", grpc_code: "UNAUTHENTICATED" })).to.equal(1);
    expect(sample(payment, "payments_created_total", { service_id: "mobile-top-up", currency: "USD" })).to.equal(1);
    expect(sample(payment, "process_cpu_user_seconds_total")).to.be.a("number");
    // The same Hold as Payment saw it, network and both event loops included.
    const holdCall = { grpc_service: "payments.processing.v1.ProcessingService", grpc_method: "Hold", grpc_code: "OK" };
    expect(sample(payment, "grpc_client_handling_seconds_count", holdCall)).to.equal(1);

    const processing = await scrape("processing");
    const hold = { grpc_service: "payments.processing.v1.ProcessingService", grpc_method: "Hold", grpc_code: "OK" };
    expect(sample(processing, "grpc_server_handled_total", hold)).to.equal(1);
    expect(sample(processing, "payments_settled_total", { outcome: "APPROVED" })).to.equal(1);
    expect(sample(processing, "payment_saga_duration_seconds_count", { outcome: "APPROVED" })).to.equal(1);
    expect(sample(processing, "payment_saga_duration_seconds_sum", { outcome: "APPROVED" })).to.be.greaterThan(0);

    // The gauges are refreshed every 200 ms here; nothing is held or stuck once the payment settled.
    const gauges = await eventually("processing's gauges", async () => {
      const text = await scrape("processing");
      return sample(text, "accounts_held_minor", { currency: "USD" }) === 0 ? text : undefined;
    });
    expect(sample(gauges, "payments_parked")).to.equal(0);
    expect(sample(gauges, "payments_stale")).to.equal(0);

    const gateway = await eventually("the gateway's consumer lag", async () => {
      const text = await scrape("gateway");
      return sample(text, "gateway_consumer_lag", { stream: system.stream, consumer: "gateway" }) === 0 ? text : undefined;
    });
    expect(sample(gateway, "gateway_provider_calls_total", { call: "charge", result: "APPROVED" })).to.equal(1);
    expect(sample(gateway, "grpc_client_handling_seconds_count", { grpc_method: "Settle", grpc_code: "OK" })).to.equal(1);
    expect(sample(gateway, "gateway_redeliveries_total")).to.equal(0);
  });

  it("reports NOT_SERVING while a dependency is down and SERVING again once it is back", async () => {
    const health = (name: "payment" | "gateway") => checkHealth(`127.0.0.1:${system.ports[name]}`, { deadlineMs: 1_000 });
    expect(await health("payment")).to.equal("SERVING");

    await system.stopService("processing");
    await eventually("payment NOT_SERVING", async () => ((await health("payment")) === "NOT_SERVING" ? true : undefined), 10_000);
    await eventually("gateway NOT_SERVING", async () => ((await health("gateway")) === "NOT_SERVING" ? true : undefined), 10_000);

    await system.startService("processing");
    await eventually("payment SERVING", async () => ((await health("payment")) === "SERVING" ? true : undefined), 10_000);
    await eventually("gateway SERVING", async () => ((await health("gateway")) === "SERVING" ? true : undefined), 10_000);
  });
});
