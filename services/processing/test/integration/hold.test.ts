import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { expectStatus } from "@payments/testing/grpcStatus";
import { SettleOutcome } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { PaymentStatus, RejectReason } from "@payments/contracts/gen/payments/v1/payment";
import { checkInvariants } from "../../src/invariants.js";
import { holdRequest, ProcessingHarness } from "./processingHarness.js";

describe("Processing.Hold (real PostgreSQL)", () => {
  let h: ProcessingHarness;
  before(async () => {
    h = await ProcessingHarness.start();
  });
  after(async () => h?.stop());
  afterEach(async () => expect(await checkInvariants(h.em())).to.deep.equal([]));

  it("persists the payment as CREATED and holds its amount in one step", async () => {
    await h.fund("hold-user", "USD", 10_000n);
    const { payment, replayed } = await h.hold(holdRequest({ userId: "hold-user", amount: { currencyCode: "USD", amountMinor: 2_500n } }));
    expect(replayed).to.equal(false);
    expect(payment!.status).to.equal(PaymentStatus.PAYMENT_STATUS_CREATED);
    expect(payment!.amount).to.deep.equal({ currencyCode: "USD", amountMinor: 2_500n });
    expect(payment!.details?.kind).to.deep.equal({ $case: "mobileTopUp", value: { phoneNumber: "+14155550123" } });
    expect(await h.account("hold-user", "USD")).to.deep.equal({ balance: 10_000n, held: 2_500n });
    expect(await h.count("ledger_entries", "payment_id = ? and kind = 'HOLD'", [payment!.id])).to.equal(1);
  });

  it("refuses a payment larger than the available balance and writes nothing", async () => {
    await h.fund("poor-user", "USD", 500n);
    await expectStatus(h.hold(holdRequest({ userId: "poor-user", amount: { currencyCode: "USD", amountMinor: 501n } })), status.FAILED_PRECONDITION, "insufficient funds");
    expect(await h.account("poor-user", "USD")).to.deep.equal({ balance: 500n, held: 0n });
    expect(await h.count("payments", "user_id = ?", ["poor-user"])).to.equal(0);
  });

  it("refuses a currency the user has no account in", async () => {
    await h.fund("usd-only", "USD", 500n);
    await expectStatus(h.hold(holdRequest({ userId: "usd-only", amount: { currencyCode: "EUR", amountMinor: 100n } })), status.FAILED_PRECONDITION, "no EUR account");
  });

  it("returns the same payment for a retry with the same key and request, holding once", async () => {
    await h.fund("retry-user", "USD", 10_000n);
    const request = holdRequest({ userId: "retry-user", idempotencyKey: "same-key" });
    const first = await h.hold(request);
    const second = await h.hold(request);
    expect(second.payment!.id).to.equal(first.payment!.id);
    expect(second.replayed).to.equal(true);
    expect(await h.account("retry-user", "USD")).to.deep.equal({ balance: 10_000n, held: 1_000n });
  });

  it("refuses the same key with a different request", async () => {
    await h.fund("reuse-user", "USD", 10_000n);
    await h.hold(holdRequest({ userId: "reuse-user", idempotencyKey: "reused" }));
    await expectStatus(
      h.hold(holdRequest({ userId: "reuse-user", idempotencyKey: "reused", amount: { currencyCode: "USD", amountMinor: 1_001n } })),
      status.ALREADY_EXISTS,
      "idempotency_key",
    );
    expect(await h.count("payments", "user_id = ?", ["reuse-user"])).to.equal(1);
  });

  it("lets two users use the same key independently", async () => {
    await h.fund("key-a", "USD", 5_000n);
    await h.fund("key-b", "USD", 5_000n);
    const a = await h.hold(holdRequest({ userId: "key-a", idempotencyKey: "shared" }));
    const b = await h.hold(holdRequest({ userId: "key-b", idempotencyKey: "shared" }));
    expect(a.payment!.id).to.not.equal(b.payment!.id);
  });

  it("never overdraws: 50 concurrent payments on an account that affords 20", async () => {
    await h.fund("busy-user", "USD", 20_000n);
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => h.hold(holdRequest({ userId: "busy-user", amount: { currencyCode: "USD", amountMinor: 1_000n } }))),
    );
    const accepted = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    expect(accepted).to.have.length(20);
    for (const r of refused) expect((r as PromiseRejectedResult).reason.code).to.equal(status.FAILED_PRECONDITION);
    expect(await h.account("busy-user", "USD")).to.deep.equal({ balance: 20_000n, held: 20_000n });
    expect(await h.count("payments", "user_id = ? and status = 'CREATED'", ["busy-user"])).to.equal(20);
  });

  it("answers every hold with a payment or a refusal while holds, settles and reused keys race on nearly empty accounts", async function () {
    this.timeout(30_000);
    const payers = ["race-a", "race-b", "race-c"];
    for (const payer of payers) await h.fund(payer, "USD", 5_000n);
    const answers = new Map<string, number>();
    const count = (answer: string) => answers.set(answer, (answers.get(answer) ?? 0) + 1);
    const deadline = Date.now() + 6_000;
    let n = 0;
    const caller = async () => {
      while (Date.now() < deadline) {
        const k = n++;
        const request = holdRequest({
          userId: payers[k % payers.length],
          // Every fifth request reuses the key of its payer's request before, for another amount.
          idempotencyKey: `race-${k % 5 === 0 ? k - payers.length : k}`,
          amount: { currencyCode: "USD", amountMinor: BigInt(100 + ((k * 37) % 400)) },
        });
        try {
          const { payment } = await h.hold(request);
          count("OK");
          if (k % 3 !== 0) await h.settle({ paymentId: payment!.id, outcome: k % 2 ? SettleOutcome.SETTLE_OUTCOME_APPROVED : SettleOutcome.SETTLE_OUTCOME_REJECTED, rejectReason: RejectReason.REJECT_REASON_DECLINED_BY_PROVIDER });
        } catch (err) {
          count(status[(err as { code: status }).code] ?? "?");
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, caller));
    // A hold that waited behind the others is checked against the account as it is when it runs.
    expect([...answers.keys()].sort()).to.deep.equal(["ALREADY_EXISTS", "FAILED_PRECONDITION", "OK"]);
  });

  it("creates one payment for many concurrent requests with the same key", async () => {
    await h.fund("racer", "USD", 50_000n);
    const request = holdRequest({ userId: "racer", idempotencyKey: "race-key" });
    const results = await Promise.all(Array.from({ length: 20 }, () => h.hold(request)));
    expect(new Set(results.map((r) => r.payment!.id)).size).to.equal(1);
    expect(results.filter((r) => !r.replayed)).to.have.length(1);
    expect(await h.account("racer", "USD")).to.deep.equal({ balance: 50_000n, held: 1_000n });
  });

  it("rejects malformed requests with INVALID_ARGUMENT naming the field", async () => {
    await expectStatus(h.hold(holdRequest({ userId: "" })), status.INVALID_ARGUMENT, "user_id");
    await expectStatus(h.hold(holdRequest({ userId: "provider:mobile-top-up" })), status.INVALID_ARGUMENT, "user_id");
    await expectStatus(h.hold(holdRequest({ idempotencyKey: "" })), status.INVALID_ARGUMENT, "idempotency_key");
    await expectStatus(h.hold(holdRequest({ serviceId: "casino" })), status.INVALID_ARGUMENT, "service_id");
    await expectStatus(h.hold(holdRequest({ amount: { currencyCode: "USD", amountMinor: 0n } })), status.INVALID_ARGUMENT, "amount.amount_minor");
    await expectStatus(h.hold(holdRequest({ amount: { currencyCode: "USD", amountMinor: -5n } })), status.INVALID_ARGUMENT, "amount.amount_minor");
    await expectStatus(h.hold(holdRequest({ amount: { currencyCode: "usd", amountMinor: 5n } })), status.INVALID_ARGUMENT, "amount.currency_code");
    await expectStatus(h.hold(holdRequest({ details: undefined })), status.INVALID_ARGUMENT, "details");
    expect(await h.count("payments", "user_id = 'alice'")).to.equal(0);
  });
});
