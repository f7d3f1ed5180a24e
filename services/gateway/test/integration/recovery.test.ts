import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { pino } from "pino";
import { context, propagation, trace } from "@opentelemetry/api";
import { callUnary } from "@payments/common/grpc/client";
import { NO_TRACE, startTracing, traceIdsOf, withSpan } from "@payments/common/tracing";
import { repoRoot } from "@payments/common/paths";
import { PaymentCreated } from "@payments/contracts/gen/payments/events/v1/payment_events";
import { PaymentStatus, RejectReason, type Payment } from "@payments/contracts/gen/payments/v1/payment";
import { dropDatabase, uniqueDatabaseUrl } from "@payments/testing/database";
import { checkInvariants } from "../../../processing/src/invariants.js";
import { ProcessingHarness } from "../../../processing/test/integration/processingHarness.js";
import { loadConfig } from "../../src/config.js";
import { startGateway, type RunningGateway } from "../../src/gateway.js";
import { ProviderUnavailableError, type PaymentProvider } from "../../src/provider/paymentProvider.js";
import { PgStubPaymentProvider } from "../../src/provider/pgStubProvider.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
const run = promisify(execFile);

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`${what}: not in ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A charge-call counter around a provider, to prove the gateway did not charge. */
function counting(provider: PaymentProvider): PaymentProvider & { charges: number } {
  const wrapped = {
    charges: 0,
    charge: (request: Parameters<PaymentProvider["charge"]>[0]) => {
      wrapped.charges++;
      return provider.charge(request);
    },
    status: (key: string) => provider.status(key),
  };
  return wrapped;
}

describe("recovery: reconciler, expired holds, parked payments (real Processing, PostgreSQL, NATS)", function () {
  this.timeout(60_000);
  let processing: ProcessingHarness;
  let nc: NatsConnection;
  let stub: PgStubPaymentProvider;
  const stubDatabaseUrl = uniqueDatabaseUrl("provider_stub_test");
  let stream: string;
  let gateway: RunningGateway | undefined;

  before(async () => {
    processing = await ProcessingHarness.start();
    await processing.fund("alice", "USD", 1_000_000n);
    nc = await connect({ servers: NATS_URL });
    stub = await PgStubPaymentProvider.open({ databaseUrl: stubDatabaseUrl, latencyMs: 5, rules: { declinedNumbers: new Set() } });
  });
  after(async () => {
    await nc?.close();
    await stub?.close();
    await processing?.stop();
    await dropDatabase(stubDatabaseUrl);
  });
  beforeEach(() => {
    stream = `payment2_recovery_${randomBytes(5).toString("hex")}`;
  });
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
    expect(await checkInvariants(processing.em()), "money invariants").to.deep.equal([]);
  });

  async function startGatewayWith(provider: PaymentProvider, env: Record<string, string> = {}): Promise<void> {
    const config = loadConfig({
      PAYMENT_STREAM: stream,
      GATEWAY_PORT: "0",
      GRPC_HOST: "127.0.0.1",
      GATEWAY_RETRY_BASE_MS: "20",
      GATEWAY_RETRY_CAP_MS: "50",
      GATEWAY_SETTLE_RETRY_CAP_MS: "100",
      GATEWAY_SHUTDOWN_GRACE_MS: "2000",
      ...env,
    });
    // The harness' client signs each call as the service allowed to make it (the gateway here).
    gateway = await startGateway({ nc, processing: processing.client, provider, config, log });
  }

  const hold = async (): Promise<Payment> => (await processing.hold({}))!.payment!;
  const read = async (id: string): Promise<Payment> =>
    (await callUnary(processing.client.getPayment.bind(processing.client), { userId: "alice", paymentId: id })).payment!;
  const untilTerminal = async (id: string, timeoutMs: number): Promise<Payment> => {
    await until(async () => (await read(id)).status !== PaymentStatus.PAYMENT_STATUS_CREATED, timeoutMs, `payment ${id} terminal`);
    return read(id);
  };
  const publish = async (payment: Payment, createTime: Date) => {
    const event = PaymentCreated.encode({ paymentId: payment.id, userId: "alice", serviceId: payment.serviceId, details: payment.details, amount: payment.amount, createTime }).finish();
    await jetstream(nc).publish(`${stream}.created`, event, { msgID: payment.id });
  };

  it("drives a payment whose hand-over never happened to APPROVED through the reconciler", async () => {
    const payment = await hold(); // held at Processing, never published: the Payment service died
    const provider = counting(stub);
    const started = Date.now();
    await startGatewayWith(provider, { GATEWAY_RECONCILE_INTERVAL_MS: "200", GATEWAY_STALE_AFTER_MS: "500" });
    const settled = await untilTerminal(payment.id, 5_000);
    expect(settled.status).to.equal(PaymentStatus.PAYMENT_STATUS_APPROVED);
    expect(Date.now() - started, "within stale-after + a few intervals").to.be.below(3_000);
    expect(await stub.chargeCount(payment.id)).to.equal(1);
  });

  it("continues the payment's trace when it hands a lost payment over again", async () => {
    // Tracing registered for this test only (ids propagated, nothing recorded), then removed.
    const tracing = startTracing({ serviceName: "recovery-test", exporter: "none" });
    try {
      let traceId = "";
      const payment = await withSpan("client", { parent: NO_TRACE }, async (_span, client) => {
        traceId = traceIdsOf(client).traceId;
        return (await processing.hold({}, client))!.payment!; // Processing keeps the Hold's traceparent with the payment
      });
      const republished = nc.subscribe(`${stream}.created`, { max: 1, timeout: 5_000 });
      await startGatewayWith(counting(stub), { GATEWAY_RECONCILE_INTERVAL_MS: "200", GATEWAY_STALE_AFTER_MS: "300" });
      for await (const message of republished) expect(message.headers?.get("traceparent")).to.match(new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`));
      expect((await untilTerminal(payment.id, 5_000)).status).to.equal(PaymentStatus.PAYMENT_STATUS_APPROVED);
    } finally {
      await tracing.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    }
  });

  it("settles an expired hold APPROVED when the provider had charged, without charging again", async () => {
    const payment = await hold();
    const first = await stub.charge({ paymentId: payment.id, idempotencyKey: payment.id, amountMinor: 1_000n, currency: "USD", serviceId: payment.serviceId, details: payment.details! });
    expect(first.outcome).to.equal("APPROVED");
    const provider = counting(stub);
    await startGatewayWith(provider, { HOLD_TTL_MS: "60000", GATEWAY_RECONCILE_INTERVAL_MS: "0" });
    await publish(payment, new Date(Date.now() - 3_600_000));
    const settled = await untilTerminal(payment.id, 5_000);
    expect(settled.status).to.equal(PaymentStatus.PAYMENT_STATUS_APPROVED);
    expect(provider.charges, "an expired hold is never charged").to.equal(0);
    expect(await stub.chargeCount(payment.id)).to.equal(1);
  });

  it("rejects an expired hold the provider never charged with HOLD_EXPIRED, and refuses a late charge", async () => {
    const payment = await hold();
    const provider = counting(stub);
    await startGatewayWith(provider, { HOLD_TTL_MS: "60000", GATEWAY_RECONCILE_INTERVAL_MS: "0" });
    await publish(payment, new Date(Date.now() - 3_600_000));
    const settled = await untilTerminal(payment.id, 5_000);
    expect(settled.status).to.equal(PaymentStatus.PAYMENT_STATUS_REJECTED);
    expect(settled.rejectReason).to.equal(RejectReason.REJECT_REASON_HOLD_EXPIRED);
    expect(provider.charges).to.equal(0);
    // A charge still on its way (another replica, a retry) cannot take the released money.
    const late = await stub.charge({ paymentId: payment.id, idempotencyKey: payment.id, amountMinor: 1_000n, currency: "USD", serviceId: payment.serviceId, details: payment.details! });
    expect(late.outcome).to.equal("DECLINED");
    expect(await stub.chargeCount(payment.id)).to.equal(0);
  });

  it("parks a payment whose provider is unreachable for charge and status, and `ops review resolve` resolves it", async () => {
    const payment = await hold();
    const down: PaymentProvider = {
      charge: async () => Promise.reject(new ProviderUnavailableError("down")),
      status: async () => Promise.reject(new ProviderUnavailableError("down")),
    };
    await startGatewayWith(down, { GATEWAY_PROVIDER_ATTEMPTS: "2", GATEWAY_STATUS_ATTEMPTS: "2", GATEWAY_RECONCILE_INTERVAL_MS: "200", GATEWAY_STALE_AFTER_MS: "300" });
    await publish(payment, payment.createTime!);
    await until(async () => (await read(payment.id)).underReview, 10_000, "parked");
    const parked = await read(payment.id);
    expect(parked.status, "the money stays held").to.equal(PaymentStatus.PAYMENT_STATUS_CREATED);
    expect((await processing.account("alice", "USD")).held >= 1_000n, "still held").to.equal(true);
    // The reconciler leaves it alone: it stays parked, not re-driven.
    await sleep(800);
    expect((await read(payment.id)).underReview).to.equal(true);

    const env = { ...process.env, PROCESSING_ADDR: `127.0.0.1:${processing.app.grpc.port}`, DEV_KEYS_DIR: processing.keysDir };
    const listed = await run("node", ["--import", "tsx", "--conditions=source", "scripts/ops.ts", "review", "list"], { cwd: repoRoot, env });
    expect(listed.stdout).to.contain(payment.id).and.to.contain("could not be reached");
    const resolved = await run(
      "node",
      ["--import", "tsx", "--conditions=source", "scripts/ops.ts", "review", "resolve", payment.id, "--outcome", "rejected", "--note", "provider support: no charge"],
      { cwd: repoRoot, env },
    );
    expect(resolved.stdout).to.contain("REJECTED");
    const final = await read(payment.id);
    expect(final.status).to.equal(PaymentStatus.PAYMENT_STATUS_REJECTED);
    expect(final.underReview).to.equal(false);
  });
});
