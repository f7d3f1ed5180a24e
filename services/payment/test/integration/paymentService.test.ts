import net from "node:net";
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { generateKeyPair, SignJWT, type CryptoKey } from "jose";
import type { JetStreamManager } from "@nats-io/jetstream";
import { createLogger } from "@payments/common/logger";
import { connectNats, ensurePaymentStream, paymentCreatedSubject, type NatsConnection } from "@payments/common/nats";
import { checkHealth } from "@payments/common/grpc/healthCheck";
import { PaymentCreated } from "@payments/contracts/gen/payments/events/v1/payment_events";
import { PaymentStatus } from "@payments/contracts/gen/payments/v1/payment";
import {
  PaymentServiceClient,
  type CreatePaymentRequest,
  type CreatePaymentResponse,
  type GetAccountRequest,
  type GetAccountResponse,
  type GetPaymentRequest,
  type GetPaymentResponse,
  type ListPaymentsRequest,
  type ListPaymentsResponse,
  type ListServicesRequest,
  type ListServicesResponse,
  type WatchPaymentResponse,
} from "@payments/contracts/gen/payments/v1/payment_service";
import { createTokenVerifier } from "../../src/auth/tokenVerifier.js";
import { createProcessingClient, type ProcessingApi } from "../../src/clients/processing.client.js";
import { createJetStreamPublisher, PaymentHandOver, type PaymentCreatedPublisher } from "../../src/messaging/paymentCreated.publisher.js";
import { startPaymentServer, type PaymentServer, type PaymentServiceDeps } from "../../src/server.js";
import { FakeProcessing } from "./fakeProcessing.js";

const NATS_URL = "nats://127.0.0.1:4222";
const ISSUER = "payments-test";
const AUDIENCE = "payments-api";
const log = createLogger("payment-test", "silent");

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;

/** The generated client's unary methods as promises (their overloads defeat generic inference). */
function promised(client: PaymentServiceClient) {
  const wrap =
    <Req, Res>(method: (req: Req, md: grpc.Metadata, cb: Callback<Res>) => unknown) =>
    (req: Req, md: grpc.Metadata) =>
      new Promise<Res>((resolve, reject) => method.call(client, req, md, (err, res) => (err ? reject(err) : resolve(res))));
  return {
    createPayment: wrap<CreatePaymentRequest, CreatePaymentResponse>(client.createPayment),
    getPayment: wrap<GetPaymentRequest, GetPaymentResponse>(client.getPayment),
    listPayments: wrap<ListPaymentsRequest, ListPaymentsResponse>(client.listPayments),
    getAccount: wrap<GetAccountRequest, GetAccountResponse>(client.getAccount),
    listServices: wrap<ListServicesRequest, ListServicesResponse>(client.listServices),
  };
}

async function expectStatus(promise: Promise<unknown>, code: grpc.status, messagePart?: string): Promise<string> {
  const err = await promise.then(
    (): grpc.ServiceError => {
      throw new Error(`expected ${grpc.status[code]}, but the call succeeded`);
    },
    (e: grpc.ServiceError) => e,
  );
  expect(grpc.status[err.code], err.details).to.equal(grpc.status[code]);
  if (messagePart) expect(err.details).to.contain(messagePart);
  return err.details;
}

async function freePortWithNothingListening(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("PaymentService with a fake Processing and real NATS JetStream", () => {
  const stream = `payment2_test_${randomBytes(4).toString("hex")}`;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let fake: FakeProcessing;
  let processing: ProcessingApi;
  let server: PaymentServer;
  let client: PaymentServiceClient;
  let api: ReturnType<typeof promised>;
  let keys: { privateKey: CryptoKey; publicKey: CryptoKey };
  let published: string[];
  let deps: PaymentServiceDeps;

  const token = (sub = "alice") =>
    new SignJWT({}).setProtectedHeader({ alg: "ES256" }).setSubject(sub).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime("5m").sign(keys.privateKey);
  const auth = async (sub = "alice") => {
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${await token(sub)}`);
    return md;
  };
  const request = (over: Partial<CreatePaymentRequest> = {}): CreatePaymentRequest => ({
    idempotencyKey: `key-${randomBytes(6).toString("hex")}`,
    serviceId: "mobile-top-up",
    details: { kind: { $case: "mobileTopUp", value: { phoneNumber: "+1 415 555 0123" } } },
    amount: { currencyCode: "USD", amountMinor: 1500n },
    ...over,
  });
  const streamMessages = async () => (await jsm.streams.info(stream)).state.messages;

  before(async () => {
    nc = await connectNats(NATS_URL, "payment-test", log);
    jsm = await ensurePaymentStream(nc, stream, { duplicateWindowMs: 60_000 });
    fake = new FakeProcessing();
    const fakePort = await fake.start();
    keys = await generateKeyPair("ES256");
    const jetStream = createJetStreamPublisher(nc, stream, log);
    // Records each publish the stream acknowledged, so tests know a hand-over has finished.
    const recording: PaymentCreatedPublisher = {
      async publish(event, trace) {
        await jetStream.publish(event, trace);
        published.push(event.paymentId);
      },
    };
    processing = createProcessingClient(`127.0.0.1:${fakePort}`, 3000);
    deps = {
      processing,
      handOver: new PaymentHandOver(recording, log),
      verifier: createTokenVerifier({ key: keys.publicKey, issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"] }),
      watchPollMs: 20,
      log,
    };
    server = await startPaymentServer(deps, { host: "127.0.0.1", port: 0 });
    client = new PaymentServiceClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    api = promised(client);
  });

  beforeEach(() => {
    published = [];
  });

  after(async () => {
    client?.close();
    await server?.stop(1000);
    processing?.close();
    fake?.stop();
    await jsm?.streams.delete(stream).catch(() => undefined);
    await nc?.drain();
  });

  it("reports SERVING on the health service", async () => {
    expect(await checkHealth(`127.0.0.1:${server.port}`, { service: "payments.v1.PaymentService" })).to.equal("SERVING");
  });

  it("CreatePayment answers with the CREATED payment and hands it to the stream with msg id = payment id", async () => {
    const before = await streamMessages();
    const { payment } = await api.createPayment(request(), await auth());
    expect(payment?.status).to.equal(PaymentStatus.PAYMENT_STATUS_CREATED);
    // The normalised number, not what the client typed, reached Processing.
    expect(payment?.details).to.deep.equal({ kind: { $case: "mobileTopUp", value: { phoneNumber: "+14155550123" } } });
    expect(fake.holds.at(-1)?.userId).to.equal("alice");

    await until(() => published.includes(payment!.id), "the hand-over");
    expect(await streamMessages()).to.equal(before + 1);
    const stored = await jsm.streams.getMessage(stream, { last_by_subj: paymentCreatedSubject(stream) });
    expect(stored?.header.get("Nats-Msg-Id")).to.equal(payment!.id);
    const event = PaymentCreated.decode(stored!.data);
    expect(event.paymentId).to.equal(payment!.id);
    expect(event.userId).to.equal("alice");
    expect(event.serviceId).to.equal("mobile-top-up");
    expect(event.amount).to.deep.equal({ currencyCode: "USD", amountMinor: 1500n });
    expect(event.details).to.deep.equal(payment!.details);
  });

  it("a replayed CreatePayment returns the same payment and adds no second stream message", async () => {
    const req = request();
    const first = await api.createPayment(req, await auth());
    await until(() => published.length === 1, "the first hand-over");
    const afterFirst = await streamMessages();

    const replay = await api.createPayment(req, await auth());
    expect(replay.payment?.id).to.equal(first.payment?.id);
    // The replay of a still-CREATED payment is published again, and the stream drops it.
    await until(() => published.length === 2, "the replayed hand-over");
    expect(await streamMessages()).to.equal(afterFirst);
  });

  it("an invalid request is refused with INVALID_ARGUMENT naming the field and never reaches Processing", async () => {
    const holds = fake.holds.length;
    const md = await auth();
    await expectStatus(api.createPayment(request({ idempotencyKey: "" }), md), grpc.status.INVALID_ARGUMENT, "idempotency_key");
    await expectStatus(api.createPayment(request({ serviceId: "lottery" }), md), grpc.status.INVALID_ARGUMENT, "service_id: unknown service");
    await expectStatus(
      api.createPayment(request({ details: { kind: { $case: "mobileTopUp", value: { phoneNumber: "+1 555" } } } }), md),
      grpc.status.INVALID_ARGUMENT,
      "details.mobile_top_up.phone_number",
    );
    await expectStatus(
      api.createPayment(request({ amount: { currencyCode: "XYZ", amountMinor: 100n } }), md),
      grpc.status.INVALID_ARGUMENT,
      "amount.currency_code: unknown currency",
    );
    await expectStatus(
      api.createPayment(request({ amount: { currencyCode: "USD", amountMinor: 0n } }), md),
      grpc.status.INVALID_ARGUMENT,
      "amount.amount_minor",
    );
    expect(fake.holds.length).to.equal(holds);
  });

  it("a call without a valid token is UNAUTHENTICATED and never reaches Processing", async () => {
    const holds = fake.holds.length;
    await expectStatus(api.createPayment(request(), new grpc.Metadata()), grpc.status.UNAUTHENTICATED, "missing authorization");
    const bad = new grpc.Metadata();
    bad.set("authorization", "Bearer nope");
    await expectStatus(api.listServices({}, bad), grpc.status.UNAUTHENTICATED);
    expect(fake.holds.length).to.equal(holds);
  });

  it("passes Processing's FAILED_PRECONDITION and ALREADY_EXISTS through with their messages", async () => {
    fake.nextHoldError = { code: grpc.status.FAILED_PRECONDITION, details: "insufficient funds" };
    await expectStatus(api.createPayment(request(), await auth()), grpc.status.FAILED_PRECONDITION, "insufficient funds");
    const req = request();
    await api.createPayment(req, await auth());
    await expectStatus(
      api.createPayment({ ...req, amount: { currencyCode: "USD", amountMinor: 1600n } }, await auth()),
      grpc.status.ALREADY_EXISTS,
    );
  });

  it("GetPayment refuses a malformed id and hides another user's payment as NOT_FOUND", async () => {
    const { payment } = await api.createPayment(request(), await auth());
    await expectStatus(api.getPayment({ paymentId: "123" }, await auth()), grpc.status.INVALID_ARGUMENT, "payment_id");
    await expectStatus(api.getPayment({ paymentId: payment!.id }, await auth("mallory")), grpc.status.NOT_FOUND);
    const mine = await api.getPayment({ paymentId: payment!.id }, await auth());
    expect(mine.payment?.id).to.equal(payment!.id);
  });

  it("ListPayments defaults page size 0 to 20, caps it at 100, refuses negatives and passes the page token", async () => {
    await api.listPayments({ pageSize: 0, pageToken: "" }, await auth());
    await api.listPayments({ pageSize: 500, pageToken: "opaque-token" }, await auth());
    expect(fake.listRequests.slice(-2).map((r) => [r.userId, r.pageSize, r.pageToken])).to.deep.equal([
      ["alice", 20, ""],
      ["alice", 100, "opaque-token"],
    ]);
    await expectStatus(api.listPayments({ pageSize: -1, pageToken: "" }, await auth()), grpc.status.INVALID_ARGUMENT, "page_size");
  });

  it("GetAccount and ListServices answer for an authenticated caller", async () => {
    const account = await api.getAccount({}, await auth());
    expect(account.balances[0]?.availableMinor).to.equal(100_000n);
    const services = await api.listServices({}, await auth());
    expect(services.services.map((s) => s.id)).to.deep.equal(["mobile-top-up", "home-internet", "utility-bill"]);
    expect(services.services[0]?.limits[0]).to.deep.equal({ currencyCode: "USD", minAmountMinor: 100n, maxAmountMinor: 20_000n });
  });

  it("WatchPayment sends the current state, survives a Processing outage, and ends at the terminal status", async () => {
    const { payment } = await api.createPayment(request(), await auth());
    const seen: PaymentStatus[] = [];
    const md = await auth();
    const ended = new Promise<void>((resolve, reject) => {
      const watch = client.watchPayment({ paymentId: payment!.id }, md);
      watch.on("data", (msg: WatchPaymentResponse) => {
        seen.push(msg.payment!.status);
        if (seen.length === 1) {
          // Two failed polls, then the settlement: the watch must keep going through the outage.
          fake.getPaymentOutages = 2;
          const calls = fake.getPaymentCalls;
          void until(() => fake.getPaymentCalls >= calls + 3, "polls through the outage").then(() =>
            fake.setStatus(payment!.id, PaymentStatus.PAYMENT_STATUS_APPROVED),
          );
        }
      });
      watch.on("error", reject);
      watch.on("end", resolve);
    });
    await ended;
    expect(seen).to.deep.equal([PaymentStatus.PAYMENT_STATUS_CREATED, PaymentStatus.PAYMENT_STATUS_APPROVED]);
  });

  it("WatchPayment stops polling when the client cancels", async () => {
    const { payment } = await api.createPayment(request(), await auth());
    const watch = client.watchPayment({ paymentId: payment!.id }, await auth());
    await new Promise((resolve) => watch.once("data", resolve));
    watch.on("error", () => undefined);
    watch.cancel();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const calls = fake.getPaymentCalls;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(fake.getPaymentCalls).to.equal(calls);
  });

  it("answers UNAVAILABLE when Processing is down", async () => {
    const deadProcessing = createProcessingClient(`127.0.0.1:${await freePortWithNothingListening()}`, 1000);
    const lonely = await startPaymentServer({ ...deps, processing: deadProcessing }, { host: "127.0.0.1", port: 0 });
    const lonelyClient = new PaymentServiceClient(`127.0.0.1:${lonely.port}`, grpc.credentials.createInsecure());
    const lonelyApi = promised(lonelyClient);
    try {
      await expectStatus(lonelyApi.createPayment(request(), await auth()), grpc.status.UNAVAILABLE);
      await expectStatus(lonelyApi.getAccount({}, await auth()), grpc.status.UNAVAILABLE);
    } finally {
      lonelyClient.close();
      await lonely.stop(1000);
      deadProcessing.close();
    }
  });
});
