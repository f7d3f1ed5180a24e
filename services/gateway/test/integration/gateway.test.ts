import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { service as healthService } from "grpc-health-check";
import { pino } from "pino";
import { PaymentCreated } from "@payments/contracts/gen/payments/events/v1/payment_events";
import { SettleOutcome, type ProcessingServiceClient } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { RejectReason } from "@payments/contracts/gen/payments/v1/payment";
import { loadConfig, type GatewayConfig } from "../../src/config.js";
import { startGateway, type RunningGateway } from "../../src/gateway.js";
import { ProviderUnavailableError, type PaymentProvider } from "../../src/provider/paymentProvider.js";
import { StubPaymentProvider } from "../../src/provider/stubProvider.js";
import { FakeProcessing } from "./fakeProcessing.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** A gateway on a stream of its own, with a fake Processing and a stub provider. */
class Harness {
  readonly stream = `payment2_test_${randomBytes(5).toString("hex")}`;
  readonly processing = new FakeProcessing();
  nc!: NatsConnection;
  jsm!: JetStreamManager;
  client!: ProcessingServiceClient;
  gateway?: RunningGateway;
  config!: GatewayConfig;

  async start(provider: PaymentProvider, env: Record<string, string> = {}): Promise<void> {
    await this.processing.start();
    this.client = this.processing.client();
    this.nc = await connect({ servers: NATS_URL });
    this.config = loadConfig({
      PAYMENT_STREAM: this.stream,
      GATEWAY_PORT: "0",
      GRPC_HOST: "127.0.0.1",
      GATEWAY_RETRY_BASE_MS: "20",
      GATEWAY_SETTLE_RETRY_CAP_MS: "100",
      GATEWAY_SHUTDOWN_GRACE_MS: "2000",
      ...env,
    });
    this.gateway = await startGateway({ nc: this.nc, processing: this.client, provider, config: this.config, log });
    this.jsm = await jetstreamManager(this.nc);
  }

  async publish(payload: Uint8Array, msgID: string): Promise<void> {
    await jetstream(this.nc).publish(`${this.stream}.created`, payload, { msgID });
  }

  consumerInfo() {
    return this.jsm.consumers.info(this.stream, this.config.consumerName);
  }

  /** Waits until every published message was acked or terminated. */
  async untilAllAnswered(count: number, timeoutMs = 10_000): Promise<void> {
    await until(async () => {
      const info = await this.consumerInfo();
      return info.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq >= count;
    }, timeoutMs);
  }

  async stop(): Promise<void> {
    await this.gateway?.stop();
    await this.jsm?.streams.delete(this.stream).catch(() => undefined);
    await this.nc?.close();
    this.client?.close();
    this.processing.stop();
  }
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(20);
  }
}

function paymentCreated(phoneNumber = "+14155550123", amountMinor = 1_500n): { id: string; bytes: Uint8Array } {
  const id = randomUUID();
  const bytes = PaymentCreated.encode({
    paymentId: id,
    userId: "user-1",
    serviceId: "mobile-top-up",
    details: { kind: { $case: "mobileTopUp", value: { phoneNumber } } },
    amount: { currencyCode: "USD", amountMinor },
    createTime: new Date(),
  }).finish();
  return { id, bytes };
}

const stub = (latencyMs = 5) => new StubPaymentProvider({ latencyMs, rules: { declinedNumbers: new Set(["+14155550199"]) } });

describe("gateway (real NATS JetStream, fake Processing)", function () {
  this.timeout(30_000);
  let h: Harness;

  beforeEach(() => {
    h = new Harness();
  });
  afterEach(async () => {
    await h.stop();
  });

  it("settles an approved payment APPROVED with key settle:<id> and acks the message", async () => {
    const provider = stub();
    await h.start(provider);
    const p = paymentCreated();
    await h.publish(p.bytes, p.id);
    await h.untilAllAnswered(1);
    expect(h.processing.calls).to.have.length(1);
    expect(h.processing.calls[0]).to.deep.include({ paymentId: p.id, idempotencyKey: `settle:${p.id}`, outcome: SettleOutcome.SETTLE_OUTCOME_APPROVED });
    expect(provider.chargeCount(p.id)).to.equal(1);
  });

  it("declares its durable consumer again when it is deleted, and goes on settling", async () => {
    const provider = stub();
    await h.start(provider);
    const first = paymentCreated();
    await h.publish(first.bytes, first.id);
    await until(() => h.processing.calls.length === 1);
    await h.jsm.consumers.delete(h.stream, h.config.consumerName);
    await until(async () => (await h.consumerInfo().then(() => true, () => false)), 20_000);
    const second = paymentCreated();
    await h.publish(second.bytes, second.id);
    await until(() => h.processing.calls.some((c) => c.paymentId === second.id), 20_000);
  });

  it("settles a declined payment REJECTED with DECLINED_BY_PROVIDER and the provider's reason", async () => {
    const provider = stub();
    await h.start(provider);
    const p = paymentCreated("+14155550199");
    await h.publish(p.bytes, p.id);
    await h.untilAllAnswered(1);
    expect(h.processing.calls).to.have.length(1);
    const call = h.processing.calls[0]!;
    expect(call.outcome).to.equal(SettleOutcome.SETTLE_OUTCOME_REJECTED);
    expect(call.rejectReason).to.equal(RejectReason.REJECT_REASON_DECLINED_BY_PROVIDER);
    expect(call.rejectMessage).to.include("+14155550199");
    expect(provider.chargeCount(p.id)).to.equal(0);
  });

  it("retries Settle through UNAVAILABLE and acks only after it succeeds", async () => {
    const provider = stub();
    await h.start(provider);
    h.processing.script.push(grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE);
    const ackPendingDuringCalls: number[] = [];
    h.processing.beforeAnswer = async () => {
      ackPendingDuringCalls.push((await h.consumerInfo()).num_ack_pending);
    };
    const p = paymentCreated();
    await h.publish(p.bytes, p.id);
    await h.untilAllAnswered(1);
    expect(h.processing.calls).to.have.length(4);
    expect(h.processing.calls.every((c) => c.idempotencyKey === `settle:${p.id}` && c.outcome === SettleOutcome.SETTLE_OUTCOME_APPROVED)).to.equal(true);
    // Unacked during every call, including the successful last one.
    expect(ackPendingDuringCalls).to.deep.equal([1, 1, 1, 1]);
    // Retried in process: the provider was asked once, the message delivered once.
    expect(provider.chargeCount(p.id)).to.equal(1);
    expect((await h.consumerInfo()).delivered.consumer_seq).to.equal(1);
  });

  it("charges the provider once when the same payment is delivered twice", async () => {
    const provider = stub(50);
    await h.start(provider);
    const p = paymentCreated();
    await h.publish(p.bytes, p.id);
    await h.publish(p.bytes, `${p.id}-republished`);
    await h.untilAllAnswered(2);
    expect(provider.chargeCount(p.id)).to.equal(1);
    expect(h.processing.calls.map((c) => c.idempotencyKey)).to.deep.equal([`settle:${p.id}`, `settle:${p.id}`]);
  });

  it("terminates an undecodable message and settles nothing", async () => {
    await h.start(stub());
    await h.publish(new TextEncoder().encode("not a PaymentCreated"), "garbage-1");
    await h.untilAllAnswered(1);
    await sleep(200);
    const info = await h.consumerInfo();
    expect(info.delivered.consumer_seq, "terminated, not redelivered").to.equal(1);
    expect(h.processing.calls).to.have.length(0);
  });

  it("handles several messages at once", async () => {
    const provider = stub(300);
    await h.start(provider);
    const payments = Array.from({ length: 10 }, () => paymentCreated());
    for (const p of payments) await h.publish(p.bytes, p.id);
    await h.untilAllAnswered(10);
    expect(provider.maxConcurrentCalls).to.be.at.least(5);
    expect(provider.totalCharges).to.equal(10);
    expect(new Set(h.processing.calls.map((c) => c.paymentId)).size).to.equal(10);
  });

  it("charges a slow provider for many payments at once, with no more Settles in flight than GATEWAY_SETTLE_CONCURRENCY", async () => {
    const provider = stub(300);
    await h.start(provider, { GATEWAY_CONCURRENCY: "64", GATEWAY_SETTLE_CONCURRENCY: "4" });
    let settling = 0;
    let mostSettling = 0;
    h.processing.beforeAnswer = async () => {
      settling++;
      mostSettling = Math.max(mostSettling, settling);
      await sleep(30);
      settling--;
    };
    const payments = Array.from({ length: 40 }, () => paymentCreated());
    for (const p of payments) await h.publish(p.bytes, p.id);
    await h.untilAllAnswered(40, 20_000);
    expect(provider.maxConcurrentCalls, "charges in flight at once").to.be.at.least(20);
    expect(mostSettling, "Settles in flight at once").to.be.within(1, 4);
    expect(new Set(h.processing.calls.map((c) => c.paymentId)).size).to.equal(40);
    for (const p of payments) expect(provider.chargeCount(p.id)).to.equal(1);
    expect((await h.consumerInfo()).num_redelivered).to.equal(0);
  });

  it("pulls no more messages than it has free slots, so none waits unattended and comes back redelivered", async () => {
    const provider = stub();
    // Two slots, and a Settle outage three times the ack wait: the two messages in hand are
    // kept alive by their handlers; one pulled ahead of a free slot would be redelivered.
    await h.start(provider, { GATEWAY_CONCURRENCY: "2", GATEWAY_ACK_WAIT_MS: "1000" });
    const outageEnds = Date.now() + 3_000;
    h.processing.beforeAnswer = async () => {
      if (Date.now() < outageEnds) h.processing.script.unshift(grpc.status.UNAVAILABLE);
    };
    const payments = Array.from({ length: 6 }, () => paymentCreated());
    for (const p of payments) await h.publish(p.bytes, p.id);
    await h.untilAllAnswered(6, 20_000);
    const info = await h.consumerInfo();
    expect(info.num_redelivered).to.equal(0);
    expect(info.delivered.consumer_seq).to.equal(6);
    for (const p of payments) expect(provider.chargeCount(p.id)).to.equal(1);
  });

  it("rejects with PROVIDER_UNAVAILABLE when the provider keeps failing and confirms it did not charge", async () => {
    const inner = stub();
    let charges = 0;
    const provider: PaymentProvider = {
      charge: async () => {
        charges++;
        throw new ProviderUnavailableError("down");
      },
      status: (key) => inner.status(key),
    };
    await h.start(provider, { GATEWAY_PROVIDER_ATTEMPTS: "3" });
    const p = paymentCreated();
    await h.publish(p.bytes, p.id);
    await h.untilAllAnswered(1);
    expect(charges).to.equal(3);
    expect(h.processing.calls).to.have.length(1);
    expect(h.processing.calls[0]).to.deep.include({
      outcome: SettleOutcome.SETTLE_OUTCOME_REJECTED,
      rejectReason: RejectReason.REJECT_REASON_PROVIDER_UNAVAILABLE,
      idempotencyKey: `settle:${p.id}`,
    });
  });

  it("parks the payment for review and acks when the provider's status lookup fails too", async () => {
    const provider: PaymentProvider = {
      charge: async () => Promise.reject(new ProviderUnavailableError("down")),
      status: async () => Promise.reject(new ProviderUnavailableError("down")),
    };
    await h.start(provider, { GATEWAY_PROVIDER_ATTEMPTS: "2", GATEWAY_STATUS_ATTEMPTS: "2", GATEWAY_RETRY_CAP_MS: "50" });
    const p = paymentCreated();
    await h.publish(p.bytes, p.id);
    await h.untilAllAnswered(1);
    // Charge failed on deliveries 1-2; status unknown on 2 and 3; parked on the third.
    expect((await h.consumerInfo()).delivered.consumer_seq).to.equal(3);
    expect(h.processing.calls, "nothing settled").to.have.length(0);
    expect(h.processing.flagged).to.have.length(1);
    expect(h.processing.flagged[0]!.paymentId).to.equal(p.id);
    expect(h.processing.flagged[0]!.reason).to.contain("could not be reached");
  });

  for (const [code, name] of [
    [grpc.status.NOT_FOUND, "NOT_FOUND (unknown payment)"],
    [grpc.status.FAILED_PRECONDITION, "FAILED_PRECONDITION (already terminal the other way)"],
  ] as const) {
    it(`terminates the message when Settle fails with ${name}`, async () => {
      await h.start(stub());
      h.processing.script.push(code);
      const p = paymentCreated();
      await h.publish(p.bytes, p.id);
      await h.untilAllAnswered(1);
      await sleep(200);
      expect(h.processing.calls).to.have.length(1);
      expect((await h.consumerInfo()).delivered.consumer_seq).to.equal(1);
    });
  }

  it("redelivers after another Settle error, reusing the provider's first answer", async () => {
    const provider = stub();
    await h.start(provider);
    h.processing.script.push(grpc.status.INTERNAL);
    const p = paymentCreated();
    await h.publish(p.bytes, p.id);
    await h.untilAllAnswered(1);
    expect(h.processing.calls).to.have.length(2);
    expect((await h.consumerInfo()).delivered.consumer_seq).to.equal(2);
    expect(provider.chargeCount(p.id)).to.equal(1);
  });

  it("serves gRPC health, NOT_SERVING while shutting down", async () => {
    await h.start(stub(500), { GATEWAY_SHUTDOWN_GRACE_MS: "3000" });
    const Health = grpc.makeGenericClientConstructor(healthService as unknown as grpc.ServiceDefinition, "Health");
    const health = new Health(`127.0.0.1:${h.gateway!.port}`, grpc.credentials.createInsecure()) as unknown as {
      check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
      close(): void;
    };
    const check = () => new Promise<string>((resolve, reject) => health.check({ service: "" }, (err, res) => (err ? reject(err) : resolve(res.status))));
    try {
      expect(await check()).to.equal("SERVING");
      const p = paymentCreated();
      await h.publish(p.bytes, p.id);
      await until(async () => (await h.consumerInfo()).num_ack_pending === 1);
      const stopping = h.gateway!.stop();
      h.gateway = undefined;
      expect(await check()).to.equal("NOT_SERVING");
      await stopping;
      expect(h.processing.calls, "the in-flight payment finished during the grace period").to.have.length(1);
    } finally {
      health.close();
    }
  });

  it("on shutdown hands an in-flight message that outlives the grace period to another replica", async () => {
    const slow = stub(1_500);
    await h.start(slow, { GATEWAY_SHUTDOWN_GRACE_MS: "200" });
    const p = paymentCreated();
    await h.publish(p.bytes, p.id);
    await until(async () => (await h.consumerInfo()).num_ack_pending === 1);
    await h.gateway!.stop();
    expect(h.processing.calls, "the abandoned handler must not settle").to.have.length(0);

    // Another replica on the same durable consumer takes it long before the 30 s ack wait.
    const fast = stub();
    const started = Date.now();
    h.gateway = await startGateway({ nc: h.nc, processing: h.client, provider: fast, config: h.config, log });
    await h.untilAllAnswered(1, 5_000);
    expect(Date.now() - started).to.be.below(5_000);
    expect(h.processing.calls).to.have.length(1);
    expect(fast.chargeCount(p.id)).to.equal(1);
  });

  it("on shutdown lets an in-flight message finish within the grace period", async () => {
    await h.start(stub(300), { GATEWAY_SHUTDOWN_GRACE_MS: "3000" });
    const p = paymentCreated();
    await h.publish(p.bytes, p.id);
    await until(async () => (await h.consumerInfo()).num_ack_pending === 1);
    await h.gateway!.stop();
    h.gateway = undefined;
    await h.untilAllAnswered(1, 2_000);
    expect(h.processing.calls).to.have.length(1);
  });
});
