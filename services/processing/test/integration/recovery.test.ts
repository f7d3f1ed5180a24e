import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { callUnary } from "@payments/common/grpc/client";
import { expectStatus } from "@payments/testing/grpcStatus";
import { SettleOutcome, type PaymentRecord } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { PaymentStatus, RejectReason } from "@payments/contracts/gen/payments/v1/payment";
import { checkInvariants } from "../../src/invariants.js";
import { ProcessingHarness } from "./processingHarness.js";

describe("Processing recovery RPCs (real PostgreSQL)", function () {
  this.timeout(30_000);
  let h: ProcessingHarness;

  before(async () => {
    h = await ProcessingHarness.start();
    await h.fund("alice", "USD", 10_000_000n);
  });
  after(async () => {
    await h?.stop();
  });
  afterEach(async () => {
    expect(await checkInvariants(h.em())).to.deep.equal([]);
  });

  const claim = (olderThanMs: bigint, reclaimAfterMs: bigint, limit: number) =>
    callUnary(h.client.claimStalePayments.bind(h.client), { olderThanMs, reclaimAfterMs, limit }).then((r) => r.payments);
  const flag = (paymentId: string, reason = "provider status unknown") =>
    callUnary(h.client.flagForReview.bind(h.client), { paymentId, reason });
  const underReview = async (): Promise<PaymentRecord[]> => {
    const all: PaymentRecord[] = [];
    let pageToken = "";
    do {
      const page = await callUnary(h.client.listPaymentsUnderReview.bind(h.client), { pageSize: 2, pageToken });
      all.push(...page.payments);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return all;
  };
  /** Drains every claimable payment, so each test starts from a clean slate. */
  const drainClaims = () => claim(1n, 3_600_000n, 1000);

  it("claims each stale payment once across concurrent callers, and not again within the reclaim interval", async () => {
    await drainClaims();
    const ids = new Set<string>();
    for (let i = 0; i < 30; i++) ids.add((await h.hold({}))!.payment!.id);
    await sleep(20);
    const rounds = await Promise.all(Array.from({ length: 6 }, () => claim(10n, 60_000n, 7)));
    const claimed = rounds.flat().map((r) => r.payment!.id);
    expect(new Set(claimed).size, "no payment claimed twice").to.equal(claimed.length);
    // Six callers of seven cover up to 42: all 30 are claimed, each by one caller.
    expect(new Set(claimed)).to.deep.equal(ids);
    expect(rounds.flat().every((r) => r.userId === "alice" && r.payment!.status === PaymentStatus.PAYMENT_STATUS_CREATED)).to.equal(true);
    expect(await claim(10n, 60_000n, 100), "claimed again too soon").to.have.length(0);
    await sleep(60);
    expect((await claim(10n, 50n, 100)).length, "claimable again after the reclaim interval").to.equal(30);
    for (const id of ids) await h.settle({ paymentId: id });
  });

  it("does not claim young, terminal or parked payments", async () => {
    await drainClaims();
    const young = (await h.hold({}))!.payment!.id;
    const settled = (await h.hold({}))!.payment!.id;
    const parked = (await h.hold({}))!.payment!.id;
    await h.settle({ paymentId: settled });
    await flag(parked);
    expect(await claim(60_000n, 0n, 100), "younger than older_than_ms").to.have.length(0);
    await sleep(20);
    const claimed = (await claim(10n, 0n, 100)).map((r) => r.payment!.id);
    expect(claimed).to.deep.equal([young]);
    await h.settle({ paymentId: young });
    await h.settle({ paymentId: parked });
  });

  it("parks a payment for review, visibly, and Settle resolves it and clears the flag", async () => {
    const payment = (await h.hold({}))!.payment!;
    const first = await flag(payment.id, "the payment system could not be reached");
    expect(first.flagged).to.equal(true);
    expect(first.payment!.payment!.underReview).to.equal(true);
    const again = await flag(payment.id, "another reason");
    expect(again.payment!.reviewReason, "the first reason is kept").to.equal("the payment system could not be reached");

    const read = await callUnary(h.client.getPayment.bind(h.client), { userId: "alice", paymentId: payment.id });
    expect(read.payment!.underReview).to.equal(true);
    const listed = await underReview();
    expect(listed.map((r) => r.payment!.id)).to.include(payment.id);
    expect(listed.find((r) => r.payment!.id === payment.id)!.reviewTime).to.be.instanceOf(Date);

    const resolved = await h.settle({
      paymentId: payment.id,
      idempotencyKey: `review:${payment.id}`,
      outcome: SettleOutcome.SETTLE_OUTCOME_REJECTED,
      rejectReason: RejectReason.REJECT_REASON_PROVIDER_UNAVAILABLE,
      rejectMessage: "nothing was charged",
      requireUnderReview: true,
      note: "checked with the provider's support",
    });
    expect(resolved.payment!.status).to.equal(PaymentStatus.PAYMENT_STATUS_REJECTED);
    expect(resolved.payment!.underReview).to.equal(false);
    expect((await underReview()).map((r) => r.payment!.id)).to.not.include(payment.id);
    expect(await h.count("settlements", "idempotency_key = ? and note = ?", [`review:${payment.id}`, "checked with the provider's support"])).to.equal(1);

    const late = await flag(payment.id);
    expect(late.flagged, "a terminal payment is not parked").to.equal(false);
    expect(late.payment!.payment!.underReview).to.equal(false);
  });

  it("refuses an operator's resolution of a payment that is not under review", async () => {
    const payment = (await h.hold({}))!.payment!;
    await expectStatus(h.settle({ paymentId: payment.id, idempotencyKey: `review:${payment.id}`, requireUnderReview: true }), status.FAILED_PRECONDITION, "not under review");
    await h.settle({ paymentId: payment.id });
  });

  it("validates the claim and flag requests", async () => {
    await expectStatus(claim(0n, 0n, 10), status.INVALID_ARGUMENT, "older_than_ms");
    await expectStatus(claim(10n, 0n, 0), status.INVALID_ARGUMENT, "limit");
    await expectStatus(flag("not-a-uuid"), status.INVALID_ARGUMENT, "payment_id");
    await expectStatus(flag("01a20f17-40ff-7050-bb15-52623e77bcc8"), status.NOT_FOUND);
    await expectStatus(flag("01a20f17-40ff-7050-bb15-52623e77bcc8", " "), status.INVALID_ARGUMENT, "reason");
  });
});
