import type { EntityManager } from "@mikro-orm/postgresql";
import { failedPrecondition, notFound } from "@payments/common/grpc/errors";
import { PaymentSchema, type Payment } from "../db/entities/payment.entity.js";
import { settleDecision, type Outcome } from "../domain/paymentRules.js";
import { query, toPayment } from "./sql.js";

export interface SettleCommand {
  paymentId: string;
  idempotencyKey: string;
  outcome: Outcome;
  /** Required for REJECTED, e.g. "DECLINED_BY_PROVIDER". */
  rejectReason?: string;
  rejectMessage?: string;
  /** Refuse a CREATED payment that is not parked for review (an operator's resolution). */
  requireUnderReview?: boolean;
  /** Recorded with the settlement, not shown to the payer. */
  note?: string;
}

export interface SettleResult {
  payment: Payment;
  /** Nothing changed: the key, or the same outcome, had already settled this payment. */
  replayed: boolean;
}

/** Thrown when an invariant the schema should make impossible is found broken. */
export class LedgerInvariantError extends Error {
  override name = "LedgerInvariantError";
}

/**
 * Resolves a payment in one transaction: APPROVED captures the hold and credits the
 * provider, REJECTED releases the hold. The payment row is locked first, so two
 * concurrent settles of one payment run one after the other and the second sees the
 * first's result: a hold is resolved at most once.
 */
export async function settlePayment(em: EntityManager, command: SettleCommand): Promise<SettleResult> {
  return em.transactional(async (tx) => {
    const [prior] = await query<{ payment_id: string; outcome: string }>(
      tx,
      "select payment_id, outcome from settlements where idempotency_key = ?",
      [command.idempotencyKey],
    );
    if (prior) {
      assertSameSettlement(prior, command);
      return { payment: await tx.findOneOrFail(PaymentSchema, command.paymentId), replayed: true };
    }

    const [row] = await query(tx, "select * from payments where id = ? for update", [command.paymentId]);
    if (!row) throw notFound(`payment ${command.paymentId} not found`);
    let payment = toPayment(tx, row);

    const decision = settleDecision(payment.status, command.outcome);
    if (decision === "conflict")
      throw failedPrecondition(`payment ${payment.id} is already ${payment.status}; a terminal status never changes`);
    if (decision === "apply" && command.requireUnderReview && !payment.reviewSince)
      throw failedPrecondition(`payment ${payment.id} is not under review; the gateway is still carrying it out`);
    if (decision === "apply") payment = await resolve(tx, payment, command);

    // A concurrent settle with this key may have recorded it meanwhile; it must agree.
    await query(tx, "insert into settlements (idempotency_key, payment_id, outcome, note) values (?, ?, ?, ?) on conflict do nothing", [
      command.idempotencyKey,
      command.paymentId,
      command.outcome,
      command.note || null,
    ]);
    const [recorded] = await query<{ payment_id: string; outcome: string }>(
      tx,
      "select payment_id, outcome from settlements where idempotency_key = ?",
      [command.idempotencyKey],
    );
    if (recorded) assertSameSettlement(recorded, command);
    return { payment, replayed: decision === "already" };
  });
}

function assertSameSettlement(recorded: { payment_id: string; outcome: string }, command: SettleCommand): void {
  if (recorded.payment_id !== command.paymentId || recorded.outcome !== command.outcome)
    throw failedPrecondition(
      `idempotency_key: already used to settle payment ${recorded.payment_id} as ${recorded.outcome}; a key settles one payment once`,
    );
}

async function resolve(tx: EntityManager, payment: Payment, command: SettleCommand): Promise<Payment> {
  const amount = payment.amountMinor.toString();
  if (command.outcome === "APPROVED") {
    await moveMoney(
      tx,
      `update accounts set balance_minor = balance_minor - ?, held_minor = held_minor - ?, updated_at = now()
       where id = ? and held_minor >= ? returning id`,
      [amount, amount, payment.payerAccountId, amount],
    );
    await moveMoney(tx, "update accounts set balance_minor = balance_minor + ?, updated_at = now() where id = ? returning id", [
      amount,
      payment.payeeAccountId,
    ]);
    await ledger(tx, payment, payment.payerAccountId, "CAPTURE");
    await ledger(tx, payment, payment.payeeAccountId, "CREDIT");
  } else {
    await moveMoney(
      tx,
      "update accounts set held_minor = held_minor - ?, updated_at = now() where id = ? and held_minor >= ? returning id",
      [amount, payment.payerAccountId, amount],
    );
    await ledger(tx, payment, payment.payerAccountId, "RELEASE");
  }
  const [row] = await query(
    tx,
    `update payments set status = ?, reject_reason = ?, reject_message = ?, updated_at = now(), resolved_at = now(),
                         review_reason = null, review_since = null
     where id = ? and status = 'CREATED' returning *`,
    [
      command.outcome,
      command.outcome === "REJECTED" ? (command.rejectReason ?? "UNSPECIFIED") : null,
      command.outcome === "REJECTED" ? (command.rejectMessage ?? null) : null,
      payment.id,
    ],
  );
  if (!row) throw new LedgerInvariantError(`payment ${payment.id} left CREATED while locked`);
  return toPayment(tx, row);
}

async function moveMoney(tx: EntityManager, sql: string, params: unknown[]): Promise<void> {
  const rows = await query(tx, sql, params);
  if (rows.length !== 1) throw new LedgerInvariantError(`balance update matched ${rows.length} rows: ${sql.split("\n")[0]}`);
}

function ledger(tx: EntityManager, payment: Payment, accountId: string, kind: "CAPTURE" | "CREDIT" | "RELEASE") {
  return query(tx, "insert into ledger_entries (account_id, payment_id, kind, amount_minor, currency) values (?, ?, ?, ?, ?)", [
    accountId,
    payment.id,
    kind,
    payment.amountMinor.toString(),
    payment.currency,
  ]);
}
