import type { EntityManager } from "@mikro-orm/postgresql";
import { failedPrecondition, notFound } from "@payments/common/grpc/errors";
import type { Payment } from "../db/entities/payment.entity.js";
import { settleDecision, type Outcome } from "../domain/paymentRules.js";
import { namedQuery, toPayment } from "./sql.js";

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
 * Resolves a payment in one transaction of two statements: APPROVED captures the hold and
 * credits the provider, REJECTED releases the hold. The payment row is locked first, so two
 * concurrent settles of one payment run one after the other and the second sees the
 * first's result: a hold is resolved at most once.
 */
export async function settlePayment(em: EntityManager, command: SettleCommand): Promise<SettleResult> {
  return em.transactional(async (tx) => {
    const [row] = await namedQuery<Record<string, unknown> & { settled_payment_id: string | null; settled_outcome: string | null }>(
      tx,
      `select p.*, s.payment_id as settled_payment_id, s.outcome as settled_outcome
       from payments p left join settlements s on s.idempotency_key = :key
       where p.id = :paymentId
       for update of p`,
      { key: command.idempotencyKey, paymentId: command.paymentId },
    );
    if (!row) throw notFound(`payment ${command.paymentId} not found`);
    const { settled_payment_id: settledPaymentId, settled_outcome: settledOutcome, ...paymentRow } = row;
    let payment = toPayment(tx, paymentRow);
    if (settledPaymentId !== null) {
      assertSameSettlement({ payment_id: settledPaymentId, outcome: settledOutcome ?? "" }, command);
      return { payment, replayed: true };
    }

    const decision = settleDecision(payment.status, command.outcome);
    if (decision === "conflict")
      throw failedPrecondition(`payment ${payment.id} is already ${payment.status}; a terminal status never changes`);
    if (decision === "apply" && command.requireUnderReview && !payment.reviewSince)
      throw failedPrecondition(`payment ${payment.id} is not under review; the gateway is still carrying it out`);
    if (decision === "apply") payment = await resolve(tx, payment, command);
    else await recordSettlement(tx, command);
    return { payment, replayed: decision === "already" };
  });
}

function assertSameSettlement(recorded: { payment_id: string; outcome: string }, command: SettleCommand): void {
  if (recorded.payment_id !== command.paymentId || recorded.outcome !== command.outcome)
    throw failedPrecondition(
      `idempotency_key: already used to settle payment ${recorded.payment_id} as ${recorded.outcome}; a key settles one payment once`,
    );
}

/**
 * Moves the money, writes the ledger, ends the payment and records the key, all in one
 * statement. Every part is checked by the rows it touched: anything else means a broken
 * invariant, and throwing rolls the whole transaction back.
 */
async function resolve(tx: EntityManager, payment: Payment, command: SettleCommand): Promise<Payment> {
  const approved = command.outcome === "APPROVED";
  const [row] = await namedQuery<Record<string, unknown> & { payer_rows: string; payee_rows: string; entry_rows: string; recorded_rows: string }>(
    tx,
    `with payer as (
       update accounts set balance_minor = balance_minor - (case when :approved then :amount else 0 end),
                           held_minor = held_minor - :amount, updated_at = now()
       where id = :payer and held_minor >= :amount
       returning id),
     payee as (
       update accounts set balance_minor = balance_minor + :amount, updated_at = now()
       where :approved and id = :payee
       returning id),
     entries as (
       insert into ledger_entries (account_id, payment_id, kind, amount_minor, currency)
       select account_id, :paymentId, kind, :amount, :currency
       from (values (cast(:payer as uuid), :payerKind), (cast(:payee as uuid), 'CREDIT')) as e (account_id, kind)
       where exists (select 1 from payer) and (kind <> 'CREDIT' or :approved)
       returning id),
     settled as (
       update payments set status = :outcome, reject_reason = :rejectReason, reject_message = :rejectMessage,
                           updated_at = now(), resolved_at = now(), review_reason = null, review_since = null
       where id = :paymentId and status = 'CREATED' and exists (select 1 from payer)
       returning *),
     recorded as (
       insert into settlements (idempotency_key, payment_id, outcome, note)
       select :key, :paymentId, :outcome, :note where exists (select 1 from settled)
       on conflict do nothing
       returning idempotency_key)
     select settled.*,
            (select count(*) from payer) as payer_rows, (select count(*) from payee) as payee_rows,
            (select count(*) from entries) as entry_rows, (select count(*) from recorded) as recorded_rows
     from settled`,
    {
      approved,
      amount: payment.amountMinor.toString(),
      payer: payment.payerAccountId,
      payee: payment.payeeAccountId,
      payerKind: approved ? "CAPTURE" : "RELEASE",
      paymentId: payment.id,
      currency: payment.currency,
      outcome: command.outcome,
      rejectReason: approved ? null : (command.rejectReason ?? "UNSPECIFIED"),
      rejectMessage: approved ? null : (command.rejectMessage ?? null),
      key: command.idempotencyKey,
      note: command.note || null,
    },
  );
  if (!row) throw new LedgerInvariantError(`payment ${payment.id}: the hold was not found on the payer's account`);
  const { payer_rows, payee_rows, entry_rows, recorded_rows, ...paymentRow } = row;
  const expected = approved ? ["1", "1", "2"] : ["1", "0", "1"];
  if ([payer_rows, payee_rows, entry_rows].map(String).join() !== expected.join())
    throw new LedgerInvariantError(`payment ${payment.id}: settle touched ${payer_rows}/${payee_rows} accounts and wrote ${entry_rows} entries`);
  // Another settle of another payment took this key meanwhile: it must agree, else roll back.
  if (String(recorded_rows) !== "1") await recordSettlement(tx, command);
  return toPayment(tx, paymentRow);
}

/** Records the key for a payment already resolved, or checks the record a concurrent settle left. */
async function recordSettlement(tx: EntityManager, command: SettleCommand): Promise<void> {
  const [recorded] = await namedQuery<{ payment_id: string; outcome: string }>(
    tx,
    `with inserted as (
       insert into settlements (idempotency_key, payment_id, outcome, note) values (:key, :paymentId, :outcome, :note)
       on conflict do nothing
       returning payment_id, outcome)
     select payment_id, outcome from inserted
     union all
     select payment_id, outcome from settlements where idempotency_key = :key and not exists (select 1 from inserted)`,
    { key: command.idempotencyKey, paymentId: command.paymentId, outcome: command.outcome, note: command.note || null },
  );
  if (recorded) assertSameSettlement(recorded, command);
}
