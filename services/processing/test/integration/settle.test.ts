import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { expectStatus } from "@payments/testing/grpcStatus";
import { SettleOutcome } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { PaymentStatus, RejectReason } from "@payments/contracts/gen/payments/v1/payment";
import { providerAccountOwner } from "@payments/catalog/catalog";
import { checkInvariants } from "../../src/invariants.js";
import { query } from "../../src/money/sql.js";
import { holdRequest, ProcessingHarness } from "./processingHarness.js";

const APPROVED = SettleOutcome.SETTLE_OUTCOME_APPROVED;
const REJECTED = SettleOutcome.SETTLE_OUTCOME_REJECTED;
const DECLINED = RejectReason.REJECT_REASON_DECLINED_BY_PROVIDER;
const provider = providerAccountOwner("mobile-top-up");

describe("Processing.Settle (real PostgreSQL)", () => {
  let h: ProcessingHarness;
  before(async () => {
    h = await ProcessingHarness.start();
  });
  after(async () => h?.stop());
  afterEach(async () => expect(await checkInvariants(h.em())).to.deep.equal([]));

  async function createdPayment(userId: string, amountMinor = 1_000n): Promise<string> {
    await h.fund(userId, "USD", 10_000n);
    const { payment } = await h.hold(holdRequest({ userId, amount: { currencyCode: "USD", amountMinor } }));
    return payment!.id;
  }

  it("APPROVED captures the hold and credits the service provider", async () => {
    const before = await h.account(provider, "USD");
    const id = await createdPayment("approve-user", 1_500n);
    const { payment, replayed } = await h.settle({ paymentId: id, outcome: APPROVED });
    expect(replayed).to.equal(false);
    expect(payment!.status).to.equal(PaymentStatus.PAYMENT_STATUS_APPROVED);
    expect(await h.account("approve-user", "USD")).to.deep.equal({ balance: 8_500n, held: 0n });
    expect((await h.account(provider, "USD")).balance - before.balance).to.equal(1_500n);
    expect(await h.count("ledger_entries", "payment_id = ? and kind in ('CAPTURE', 'CREDIT')", [id])).to.equal(2);
  });

  it("REJECTED releases the hold and records the reason", async () => {
    const id = await createdPayment("reject-user");
    const { payment } = await h.settle({ paymentId: id, outcome: REJECTED, rejectReason: DECLINED, rejectMessage: "card blocked" });
    expect(payment!.status).to.equal(PaymentStatus.PAYMENT_STATUS_REJECTED);
    expect(payment!.rejectReason).to.equal(DECLINED);
    expect(payment!.rejectMessage).to.equal("card blocked");
    expect(await h.account("reject-user", "USD")).to.deep.equal({ balance: 10_000n, held: 0n });
  });

  it("settling twice with the same key returns the first result and moves money once", async () => {
    const id = await createdPayment("replay-user");
    await h.settle({ paymentId: id, outcome: APPROVED });
    const replay = await h.settle({ paymentId: id, outcome: APPROVED });
    expect(replay.replayed).to.equal(true);
    expect(replay.payment!.status).to.equal(PaymentStatus.PAYMENT_STATUS_APPROVED);
    expect(await h.account("replay-user", "USD")).to.deep.equal({ balance: 9_000n, held: 0n });
    expect(await h.count("ledger_entries", "payment_id = ? and kind = 'CAPTURE'", [id])).to.equal(1);
  });

  it("refuses the opposite outcome on a terminal payment and changes nothing", async () => {
    const id = await createdPayment("flip-user");
    await h.settle({ paymentId: id, outcome: APPROVED });
    await expectStatus(h.settle({ paymentId: id, outcome: REJECTED, rejectReason: DECLINED, idempotencyKey: "other-key" }), status.FAILED_PRECONDITION, "already APPROVED");
    await expectStatus(h.settle({ paymentId: id, outcome: REJECTED, rejectReason: DECLINED }), status.FAILED_PRECONDITION, "idempotency_key");
    expect(await h.account("flip-user", "USD")).to.deep.equal({ balance: 9_000n, held: 0n });
    expect((await h.settle({ paymentId: id, outcome: APPROVED })).payment!.status).to.equal(PaymentStatus.PAYMENT_STATUS_APPROVED);
  });

  it("the same outcome with a new key is answered as already done", async () => {
    const id = await createdPayment("rekey-user");
    await h.settle({ paymentId: id, outcome: REJECTED, rejectReason: DECLINED });
    const again = await h.settle({ paymentId: id, outcome: REJECTED, rejectReason: DECLINED, idempotencyKey: "reconciler:1" });
    expect(again.replayed).to.equal(true);
    expect(await h.count("ledger_entries", "payment_id = ? and kind = 'RELEASE'", [id])).to.equal(1);
  });

  it("refuses to reuse one settle key for another payment", async () => {
    const first = await createdPayment("key-reuse-1");
    const second = await createdPayment("key-reuse-2");
    await h.settle({ paymentId: first, outcome: APPROVED, idempotencyKey: "one-key" });
    await expectStatus(h.settle({ paymentId: second, outcome: APPROVED, idempotencyKey: "one-key" }), status.FAILED_PRECONDITION, "idempotency_key");
    expect(await h.account("key-reuse-2", "USD")).to.deep.equal({ balance: 10_000n, held: 1_000n });
  });

  it("concurrent APPROVED and REJECTED for one payment: exactly one wins", async () => {
    for (let round = 0; round < 10; round++) {
      const id = await createdPayment(`race-${round}`);
      const results = await Promise.allSettled([
        h.settle({ paymentId: id, outcome: APPROVED, idempotencyKey: `a-${id}` }),
        h.settle({ paymentId: id, outcome: REJECTED, rejectReason: DECLINED, idempotencyKey: `r-${id}` }),
        h.settle({ paymentId: id, outcome: APPROVED, idempotencyKey: `a2-${id}` }),
        h.settle({ paymentId: id, outcome: REJECTED, rejectReason: DECLINED, idempotencyKey: `r2-${id}` }),
      ]);
      const won = results.filter((r) => r.status === "fulfilled" && !r.value.replayed);
      expect(won, `round ${round}`).to.have.length(1);
      for (const r of results)
        if (r.status === "rejected") expect(r.reason.code).to.equal(status.FAILED_PRECONDITION);
      expect((await h.account(`race-${round}`, "USD")).held).to.equal(0n);
    }
  });

  it("concurrent retries of one settle (same key): one applies, the others are replays", async () => {
    for (let round = 0; round < 10; round++) {
      const id = await createdPayment(`retry-race-${round}`);
      const results = await Promise.all(Array.from({ length: 4 }, () => h.settle({ paymentId: id, outcome: APPROVED, idempotencyKey: `k-${id}` })));
      expect(results.filter((r) => !r.replayed), `round ${round}`).to.have.length(1);
      expect(await h.account(`retry-race-${round}`, "USD")).to.deep.equal({ balance: 9_000n, held: 0n });
    }
  });

  it("one key raced for two payments settles only one of them", async () => {
    for (let round = 0; round < 10; round++) {
      const [first, second] = [await createdPayment(`key-race-a-${round}`), await createdPayment(`key-race-b-${round}`)];
      const results = await Promise.allSettled([first, second].map((paymentId) => h.settle({ paymentId, outcome: APPROVED, idempotencyKey: `shared-${round}` })));
      expect(results.filter((r) => r.status === "fulfilled"), `round ${round}`).to.have.length(1);
      // The loser learns the key is taken, or (caught mid-race) is told to try again.
      for (const r of results) if (r.status === "rejected") expect(r.reason.code).to.be.oneOf([status.FAILED_PRECONDITION, status.ABORTED]);
      const held = [(await h.account(`key-race-a-${round}`, "USD")).held, (await h.account(`key-race-b-${round}`, "USD")).held];
      expect(held.sort()).to.deep.equal([0n, 1_000n]);
    }
  });

  it("settles many payments of one payer and one provider at once without deadlocks", async () => {
    await h.fund("busy-payer", "USD", 100_000n);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++)
      ids.push((await h.hold(holdRequest({ userId: "busy-payer", idempotencyKey: `busy-${i}`, amount: { currencyCode: "USD", amountMinor: 100n } }))).payment!.id);
    await Promise.all(
      ids.map((paymentId, i) => h.settle(i % 2 ? { paymentId, outcome: APPROVED } : { paymentId, outcome: REJECTED, rejectReason: DECLINED })),
    );
    expect(await h.account("busy-payer", "USD")).to.deep.equal({ balance: 99_000n, held: 0n });
  });

  it("writes nothing when a part of the settlement cannot be written, and says so as INTERNAL", async () => {
    const id = await createdPayment("broken-payee");
    const [row] = await query<{ payee: string }>(h.em(), "select payee_account_id as payee from payments where id = ?", [id]);
    const payee = row!.payee;
    // A payee account that does not exist: only possible with the foreign keys out of the way.
    const constraints = ["payments_payee_account_id_fkey on payments", "ledger_entries_account_id_fkey on ledger_entries"];
    for (const c of constraints) await query(h.em(), `alter table ${c.split(" on ")[1]} drop constraint ${c.split(" on ")[0]}`);
    try {
      await query(h.em(), "update payments set payee_account_id = gen_random_uuid() where id = ?", [id]);
      await expectStatus(h.settle({ paymentId: id, outcome: APPROVED }), status.INTERNAL);
      expect(await h.account("broken-payee", "USD")).to.deep.equal({ balance: 10_000n, held: 1_000n });
      expect(await h.count("ledger_entries", "payment_id = ? and kind <> 'HOLD'", [id])).to.equal(0);
      expect(await h.count("settlements", "payment_id = ?", [id])).to.equal(0);
      expect(await h.count("payments", "id = ? and status = 'CREATED'", [id])).to.equal(1);
    } finally {
      await query(h.em(), "update payments set payee_account_id = ? where id = ?", [payee, id]);
      await query(h.em(), "alter table payments add constraint payments_payee_account_id_fkey foreign key (payee_account_id) references accounts (id)");
      await query(h.em(), "alter table ledger_entries add constraint ledger_entries_account_id_fkey foreign key (account_id) references accounts (id)");
    }
    expect((await h.settle({ paymentId: id, outcome: APPROVED })).payment!.status).to.equal(PaymentStatus.PAYMENT_STATUS_APPROVED);
  });

  it("answers NOT_FOUND for an unknown payment and INVALID_ARGUMENT for malformed requests", async () => {
    await expectStatus(h.settle({ paymentId: "0190a2b4-0000-7000-8000-000000000000" }), status.NOT_FOUND);
    await expectStatus(h.settle({ paymentId: "not-a-uuid" }), status.INVALID_ARGUMENT, "payment_id");
    const id = await createdPayment("bad-settle");
    await expectStatus(h.settle({ paymentId: id, outcome: SettleOutcome.SETTLE_OUTCOME_UNSPECIFIED }), status.INVALID_ARGUMENT, "outcome");
    await expectStatus(h.settle({ paymentId: id, outcome: REJECTED }), status.INVALID_ARGUMENT, "reject_reason");
    await expectStatus(h.settle({ paymentId: id, idempotencyKey: "" }), status.INVALID_ARGUMENT, "idempotency_key");
    expect(await h.account("bad-settle", "USD")).to.deep.equal({ balance: 10_000n, held: 1_000n });
  });
});
