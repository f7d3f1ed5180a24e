import { status, type Metadata } from "@grpc/grpc-js";
import { expect } from "chai";
import { providerAccountOwner } from "@payments/catalog/catalog";
import { callUnary } from "@payments/common/grpc/client";
import { expectStatus } from "@payments/testing/grpcStatus";
import { PaymentStatus, RejectReason, type Payment } from "@payments/contracts/gen/payments/v1/payment";
import type { CreatePaymentRequest, PaymentServiceClient } from "@payments/contracts/gen/payments/v1/payment_service";
import { checkInvariants, pendingPayments } from "../../services/processing/src/invariants.js";
import { query } from "../../services/processing/src/money/sql.js";
import { DECLINED_PHONE, RunningSystem } from "../support/system.js";
import { topUp } from "../support/requests.js";

/** Reads a WatchPayment stream to its end and returns every update. */
function watchToEnd(client: PaymentServiceClient, paymentId: string, metadata: Metadata): Promise<Payment[]> {
  return new Promise((resolve, reject) => {
    const updates: Payment[] = [];
    const call = client.watchPayment({ paymentId }, metadata, { deadline: Date.now() + 30_000 });
    call.on("data", (message: { payment?: Payment }) => updates.push(message.payment!));
    call.on("error", reject);
    call.on("end", () => resolve(updates));
  });
}

describe("the payment saga, three services as processes (real PostgreSQL and NATS)", function () {
  this.timeout(120_000);
  let system: RunningSystem;
  let client: PaymentServiceClient;

  before(async () => {
    system = await RunningSystem.start();
    client = system.paymentClient();
  });
  after(async () => system?.stop());
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(system?.recentLogs());
  });

  const create = async (userId: string, request: CreatePaymentRequest) =>
    (await callUnary(client.createPayment.bind(client), request, { metadata: await system.auth(userId) })).payment!;
  const balance = async (ownerId: string, currency = "USD") => {
    const [row] = await query<{ balance_minor: string; held_minor: string }>(
      system.em(),
      "select balance_minor, held_minor from accounts where owner_id = ? and currency = ?",
      [ownerId, currency],
    );
    return { balance: BigInt(row?.balance_minor ?? 0), held: BigInt(row?.held_minor ?? 0) };
  };
  const paymentCount = async (userId: string) =>
    Number((await query<{ n: string }>(system.em(), "select count(*) as n from payments where user_id = ?", [userId]))[0]!.n);

  it("accepts a payment at once as CREATED, then settles it APPROVED with the money captured", async () => {
    await system.fund("e2e-happy", "USD", 10_000n);
    const providerBefore = await balance(providerAccountOwner("mobile-top-up"));

    const accepted = await create("e2e-happy", topUp({ amount: { currencyCode: "USD", amountMinor: 2_500n } }));
    expect(accepted.status).to.equal(PaymentStatus.PAYMENT_STATUS_CREATED);
    expect(accepted.id).to.match(/^[0-9a-f-]{36}$/);

    const updates = await watchToEnd(client, accepted.id, await system.auth("e2e-happy"));
    expect(updates.at(-1)!.status).to.equal(PaymentStatus.PAYMENT_STATUS_APPROVED);
    expect(await balance("e2e-happy")).to.deep.equal({ balance: 7_500n, held: 0n });
    const providerAfter = await balance(providerAccountOwner("mobile-top-up"));
    expect(providerAfter.balance - providerBefore.balance).to.equal(2_500n);
    const kinds = await query<{ kind: string }>(system.em(), "select kind from ledger_entries where payment_id = ? order by id", [accepted.id]);
    expect(kinds.map((k) => k.kind)).to.deep.equal(["HOLD", "CAPTURE", "CREDIT"]);
  });

  it("ends a payment the provider declines as REJECTED with the hold released", async () => {
    await system.fund("e2e-declined", "USD", 10_000n);
    const accepted = await create("e2e-declined", topUp({ details: { kind: { $case: "mobileTopUp", value: { phoneNumber: DECLINED_PHONE } } } }));
    const final = (await watchToEnd(client, accepted.id, await system.auth("e2e-declined"))).at(-1)!;
    expect(final.status).to.equal(PaymentStatus.PAYMENT_STATUS_REJECTED);
    expect(final.rejectReason).to.equal(RejectReason.REJECT_REASON_DECLINED_BY_PROVIDER);
    expect(await balance("e2e-declined")).to.deep.equal({ balance: 10_000n, held: 0n });
  });

  it("refuses a payment the account cannot afford with FAILED_PRECONDITION and holds nothing", async () => {
    await system.fund("e2e-poor", "USD", 500n);
    await expectStatus(create("e2e-poor", topUp({ amount: { currencyCode: "USD", amountMinor: 600n } })), status.FAILED_PRECONDITION, "insufficient funds");
    expect(await balance("e2e-poor")).to.deep.equal({ balance: 500n, held: 0n });
    expect(await paymentCount("e2e-poor")).to.equal(0);
  });

  it("returns the same payment for a retried create and refuses the key for another request", async () => {
    await system.fund("e2e-retry", "USD", 10_000n);
    const request = topUp();
    const first = await create("e2e-retry", request);
    const again = await create("e2e-retry", request);
    expect(again.id).to.equal(first.id);
    await expectStatus(create("e2e-retry", { ...request, amount: { currencyCode: "USD", amountMinor: 1_001n } }), status.ALREADY_EXISTS, "idempotency_key");
    expect(await paymentCount("e2e-retry")).to.equal(1);
  });

  it("hides a user's payment from every other user", async () => {
    await system.fund("e2e-owner", "USD", 10_000n);
    const payment = await create("e2e-owner", topUp());
    const stranger = await system.auth("e2e-stranger");
    await expectStatus(callUnary(client.getPayment.bind(client), { paymentId: payment.id }, { metadata: stranger }), status.NOT_FOUND);
    await expectStatus(watchToEnd(client, payment.id, stranger), status.NOT_FOUND);
    const page = await callUnary(client.listPayments.bind(client), { pageSize: 100, pageToken: "" }, { metadata: stranger });
    expect(page.payments).to.deep.equal([]);
  });

  it("refuses calls without a valid token", async () => {
    const { Metadata } = await import("@grpc/grpc-js");
    await expectStatus(callUnary(client.getAccount.bind(client), {}, { metadata: new Metadata() }), status.UNAUTHENTICATED);
    const forged = new Metadata();
    forged.set("authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.");
    await expectStatus(callUnary(client.createPayment.bind(client), topUp(), { metadata: forged }), status.UNAUTHENTICATED);
  });

  it("refuses invalid input with INVALID_ARGUMENT naming the field, writing nothing", async () => {
    await system.fund("e2e-invalid", "USD", 10_000n);
    const cases: Array<[Partial<CreatePaymentRequest>, string]> = [
      [{ details: { kind: { $case: "mobileTopUp", value: { phoneNumber: "12345" } } } }, "phone_number"],
      [{ amount: { currencyCode: "USD", amountMinor: 0n } }, "amount_minor"],
      [{ amount: { currencyCode: "USD", amountMinor: -100n } }, "amount_minor"],
      [{ amount: { currencyCode: "USD", amountMinor: 9_223_372_036_854_775_807n } }, "amount_minor"],
      [{ serviceId: "lottery" }, "service_id"],
      [{ amount: { currencyCode: "XYZ", amountMinor: 1_000n } }, "currency_code"],
      [{ idempotencyKey: "" }, "idempotency_key"],
    ];
    for (const [override, field] of cases) await expectStatus(create("e2e-invalid", topUp(override)), status.INVALID_ARGUMENT, field);
    expect(await paymentCount("e2e-invalid")).to.equal(0);
    expect(await balance("e2e-invalid")).to.deep.equal({ balance: 10_000n, held: 0n });
  });

  it("shows the caller's balances and the service catalog", async () => {
    await system.fund("e2e-balance", "USD", 4_200n);
    const account = await callUnary(client.getAccount.bind(client), {}, { metadata: await system.auth("e2e-balance") });
    expect(account.balances).to.deep.equal([{ currencyCode: "USD", totalMinor: 4_200n, heldMinor: 0n, availableMinor: 4_200n }]);
    const catalog = await callUnary(client.listServices.bind(client), {}, { metadata: await system.auth("e2e-balance") });
    expect(catalog.services.map((s) => s.id)).to.include.members(["mobile-top-up", "home-internet", "utility-bill"]);
  });

  it("50 concurrent payments on an account that affords 20: no overdraft, all settle, invariants hold", async () => {
    await system.fund("e2e-burst", "USD", 20_000n);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => create("e2e-burst", topUp())));
    const accepted = results.filter((r): r is PromiseFulfilledResult<Payment> => r.status === "fulfilled").map((r) => r.value);
    expect(accepted).to.have.length(20);
    for (const r of results) if (r.status === "rejected") expect(r.reason.code).to.equal(status.FAILED_PRECONDITION);

    const metadata = await system.auth("e2e-burst");
    const finals = await Promise.all(accepted.map(async (p) => (await watchToEnd(client, p.id, metadata)).at(-1)!));
    expect(finals.every((p) => p.status === PaymentStatus.PAYMENT_STATUS_APPROVED)).to.equal(true);
    expect(await balance("e2e-burst")).to.deep.equal({ balance: 0n, held: 0n });
  });

  it("leaves every payment terminal and every invariant intact once the system is quiet", async () => {
    const deadline = Date.now() + 30_000;
    while ((await pendingPayments(system.em())).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await pendingPayments(system.em())).to.deep.equal([]);
    expect(await checkInvariants(system.em())).to.deep.equal([]);
  });
});
