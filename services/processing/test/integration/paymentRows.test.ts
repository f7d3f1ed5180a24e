import { expect } from "chai";
import { SettleOutcome } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { PaymentStatus, RejectReason } from "@payments/contracts/gen/payments/v1/payment";
import { checkInvariants } from "../../src/invariants.js";
import { PaymentSchema } from "../../src/db/entities/payment.entity.js";
import { PAYMENT_COLUMNS, toPayment } from "../../src/money/paymentRows.js";
import { inTransaction, namedQuery, query, type PreparedStatement } from "../../src/money/sql.js";
import { holdRequest, ProcessingHarness } from "./processingHarness.js";

describe("Payments as rows: Hold and Settle's prepared statements, and the row mapping (real PostgreSQL)", () => {
  let h: ProcessingHarness;
  before(async () => {
    h = await ProcessingHarness.start();
  });
  after(async () => h?.stop());
  afterEach(async () => expect(await checkInvariants(h.em())).to.deep.equal([]));

  /** As many payments at once as the pool has connections, so each connection prepares the statements. */
  async function holdAndSettleOnEveryConnection(userId: string): Promise<void> {
    await h.fund(userId, "USD", 100_000n);
    const holds = await Promise.all(Array.from({ length: 12 }, () => h.hold(holdRequest({ userId }))));
    const settled = await Promise.all(holds.map(({ payment }) => h.settle({ paymentId: payment!.id })));
    for (const { payment } of settled) expect(payment!.status).to.equal(PaymentStatus.PAYMENT_STATUS_APPROVED);
  }

  it("the column list is the payments table's, so a new column cannot be missed", async () => {
    const rows = await query<{ column_name: string }>(
      h.em(),
      "select column_name from information_schema.columns where table_schema = current_schema() and table_name = 'payments' order by ordinal_position",
    );
    expect(rows.map((row) => row.column_name)).to.deep.equal([...PAYMENT_COLUMNS]);
  });

  it("keep working when a migration adds a column while they are prepared", async () => {
    await holdAndSettleOnEveryConnection("prepared-before");
    await query(h.em(), "alter table payments add column added_by_a_later_release text");
    try {
      await holdAndSettleOnEveryConnection("prepared-after");
    } finally {
      await query(h.em(), "alter table payments drop column added_by_a_later_release");
    }
  });

  it("run inside and outside transactions on the same connections", async () => {
    // pg refuses a statement name that one connection has prepared with another text, so
    // both ways of running a statement must send the very same text.
    const statement: PreparedStatement = { name: "rows_test_in_and_out", text: "select cast(:a as int) + cast(:b as int) + cast(:a as int) as sum" };
    // More tasks than the pool has connections, so each connection serves both ways.
    const sums = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const outside = await namedQuery<{ sum: number }>(h.em(), statement, { a: i, b: 1 });
        const inside = await inTransaction(h.em(), (tx) => namedQuery<{ sum: number }>(tx, statement, { a: i, b: 2 }));
        return [outside[0]!.sum, inside[0]!.sum];
      }),
    );
    expect(sums).to.deep.equal(Array.from({ length: 12 }, (_, i) => [2 * i + 1, 2 * i + 2]));
  });

  it("maps a row to the same payment as MikroORM's entity mapping", async () => {
    await h.fund("mapped-user", "USD", 10_000n);
    const approved = (await h.hold(holdRequest({ userId: "mapped-user" }))).payment!.id;
    const rejected = (await h.hold(holdRequest({ userId: "mapped-user" }))).payment!.id;
    await h.settle({ paymentId: approved });
    await h.settle({
      paymentId: rejected,
      outcome: SettleOutcome.SETTLE_OUTCOME_REJECTED,
      rejectReason: RejectReason.REJECT_REASON_DECLINED_BY_PROVIDER,
      rejectMessage: "card blocked",
    });
    const rows = await query(h.em(), "select * from payments where id in (?, ?)", [approved, rejected]);
    expect(rows).to.have.length(2);
    for (const row of rows) expect(toPayment(h.em(), row)).to.deep.equal({ ...h.em().map(PaymentSchema, row) });
  });
});
