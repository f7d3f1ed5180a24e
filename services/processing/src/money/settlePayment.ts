import type { EntityManager } from "@mikro-orm/postgresql";
import { aborted, failedPrecondition, notFound } from "@payments/common/grpc/errors";
import type { Payment } from "../db/entities/payment.entity.js";
import { settleDecision, type Outcome } from "../domain/paymentRules.js";
import { isUniqueViolationOf, ledgerInvariantErrorOf } from "./ledgerErrors.js";
import { paymentColumns, toPayment } from "./paymentRows.js";
import { inTransaction, namedQuery, type PreparedStatement } from "./sql.js";

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

/**
 * Resolves a payment: APPROVED captures the hold and credits the provider, REJECTED
 * releases the hold. The common case (a CREATED payment, a new key) is one statement and
 * one round trip; everything else (a replayed key, a payment already resolved, one not
 * found or not parked for an operator) goes through the locked read below, which decides.
 * `em` may be the global entity manager: the locked read runs in a transaction, which forks.
 */
export async function settlePayment(em: EntityManager, command: SettleCommand): Promise<SettleResult> {
  const resolution = await resolveIfCreated(em, command);
  if (resolution.kind === "resolved") return { payment: resolution.payment, replayed: false };
  return settleUnderLock(em, command);
}

/** What the one-statement path did. */
type Resolution =
  | { kind: "resolved"; payment: Payment }
  /** Nothing changed: the payment is not CREATED (or not parked, for the operator), or the key is already recorded. */
  | { kind: "not-applied" }
  /** Another settle recorded this key while the statement ran; the statement was rolled back. */
  | { kind: "key-taken" };

/** Rows the statement writes besides the payment: payer, payee, ledger entries, settlement. */
const ROWS_WRITTEN = { APPROVED: 5, REJECTED: 3 } as const;

/** The one statement of {@link resolveIfCreated}. */
const SETTLE_IF_CREATED: PreparedStatement = {
  name: "settle_if_created",
  text: `with settled as (
     update payments set status = :outcome, reject_reason = :rejectReason, reject_message = :rejectMessage,
                         updated_at = now(), resolved_at = now(), review_reason = null, review_since = null
     where id = :paymentId and status = 'CREATED' and (review_since is not null or not :requireUnderReview)
       and not exists (select 1 from settlements where idempotency_key = :key)
     returning ${paymentColumns()}),
   payer as (
     update accounts a set balance_minor = a.balance_minor - (case when :approved then s.amount_minor else 0 end),
                           held_minor = a.held_minor - s.amount_minor, updated_at = now()
     from settled s where a.id = s.payer_account_id
     returning a.id),
   payee as (
     update accounts a set balance_minor = a.balance_minor + s.amount_minor, updated_at = now()
     from settled s where :approved and a.id = s.payee_account_id and exists (select 1 from payer)
     returning a.id),
   entries as (
     insert into ledger_entries (account_id, payment_id, kind, amount_minor, currency)
     select e.account_id, s.id, e.kind, s.amount_minor, s.currency
     from settled s cross join lateral (values (s.payer_account_id, :payerKind), (s.payee_account_id, 'CREDIT')) as e (account_id, kind)
     where e.kind <> 'CREDIT' or :approved
     returning id),
   recorded as (
     insert into settlements (idempotency_key, payment_id, outcome, note)
     select :key, id, :outcome, :note from settled
     returning idempotency_key)
   select ${paymentColumns("settled")},
          1 / cast((select count(*) from payer) + (select count(*) from payee) + (select count(*) from entries)
                   + (select count(*) from recorded) = :rowsWritten as int) as complete
   from settled`,
};

/**
 * The one-statement path. The payment's update comes first and the rest is driven by the
 * row it returns, so nothing moves unless this statement is the one that ended the payment
 * (a concurrent settle makes the guard `status = 'CREATED'` fail once it commits). Locks
 * are taken in one order, payment, payer, payee, as in the locked path, so concurrent
 * settles queue instead of deadlocking. Nothing of it stays unless all of it is written: a
 * part that cannot be (a second settlement for the key, a ledger entry twice, a hold larger
 * than the held amount) violates a constraint, and a part missing makes the last line divide
 * by zero; either fails the whole statement.
 */
async function resolveIfCreated(em: EntityManager, command: SettleCommand): Promise<Resolution> {
  const approved = command.outcome === "APPROVED";
  try {
    const [row] = await namedQuery(
      em,
      SETTLE_IF_CREATED,
      {
        approved,
        requireUnderReview: command.requireUnderReview ?? false,
        payerKind: approved ? "CAPTURE" : "RELEASE",
        paymentId: command.paymentId,
        outcome: command.outcome,
        rejectReason: approved ? null : (command.rejectReason ?? "UNSPECIFIED"),
        rejectMessage: approved ? null : (command.rejectMessage ?? null),
        key: command.idempotencyKey,
        note: command.note || null,
        rowsWritten: ROWS_WRITTEN[command.outcome],
      },
    );
    if (!row) return { kind: "not-applied" };
    const { complete: _complete, ...paymentRow } = row;
    return { kind: "resolved", payment: toPayment(em, paymentRow) };
  } catch (err) {
    // The key was recorded meanwhile (by a settle of this or another payment): the locked path tells which.
    if (isUniqueViolationOf(err, "settlements_pkey")) return { kind: "key-taken" };
    throw ledgerInvariantErrorOf(err, `payment ${command.paymentId}`, "settling", "an account, ledger entry or settlement record") ?? err;
  }
}

/**
 * The payment row is locked first, so a settle that finds the payment CREATED resolves it
 * before any other settle of it can look: a hold is resolved at most once.
 */
async function settleUnderLock(em: EntityManager, command: SettleCommand): Promise<SettleResult> {
  return inTransaction(em, async (tx) => {
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
    const payment = toPayment(tx, paymentRow);
    if (settledPaymentId !== null) {
      assertSameSettlement({ payment_id: settledPaymentId, outcome: settledOutcome ?? "" }, command);
      return { payment, replayed: true };
    }

    const decision = settleDecision(payment.status, command.outcome);
    if (decision === "conflict")
      throw failedPrecondition(`payment ${payment.id} is already ${payment.status}; a terminal status never changes`);
    if (decision === "apply" && command.requireUnderReview && !payment.reviewSince)
      throw failedPrecondition(`payment ${payment.id} is not under review; the gateway is still carrying it out`);
    if (decision === "apply") {
      // The one statement again, now that this transaction holds the payment's lock.
      const resolution = await resolveIfCreated(tx, command);
      if (resolution.kind === "resolved") return { payment: resolution.payment, replayed: false };
      // The payment is still CREATED, so another payment's settle recorded this key after
      // the read above: the key's record says which (FAILED_PRECONDITION).
      if (resolution.kind === "not-applied") await recordSettlement(tx, command);
      // Else the statement failed on the key and spoilt the transaction: a retry sees who has it.
      throw aborted(`payment ${command.paymentId}: its settle key was being used concurrently; try again`);
    }
    await recordSettlement(tx, command);
    return { payment, replayed: decision === "already" };
  });
}

function assertSameSettlement(recorded: { payment_id: string; outcome: string }, command: SettleCommand): void {
  if (recorded.payment_id !== command.paymentId || recorded.outcome !== command.outcome)
    throw failedPrecondition(
      `idempotency_key: already used to settle payment ${recorded.payment_id} as ${recorded.outcome}; a key settles one payment once`,
    );
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
