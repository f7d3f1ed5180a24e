import type { EntityManager } from "@mikro-orm/postgresql";
import { v7 as uuidv7 } from "uuid";
import { providerAccountOwner } from "@payments/catalog/catalog";
import { alreadyExists, failedPrecondition } from "@payments/common/grpc/errors";
import { PaymentSchema, type Payment } from "../db/entities/payment.entity.js";
import { holdFingerprint } from "../domain/paymentRules.js";
import { isUniqueViolationOf, ledgerInvariantErrorOf } from "./ledgerErrors.js";
import { paymentColumns, toPayment } from "./paymentRows.js";
import { namedQuery, type PreparedStatement } from "./sql.js";

/** A validated request to hold money for a new payment. */
export interface HoldCommand {
  userId: string;
  idempotencyKey: string;
  serviceId: string;
  /** payments.v1.PaymentDetails in proto JSON form, already normalised by the caller. */
  details: Record<string, unknown>;
  amountMinor: bigint;
  currency: string;
  /** W3C traceparent of the call, stored with the payment; undefined outside a trace. */
  traceParent?: string;
}

export interface HoldResult {
  payment: Payment;
  /** The key was used before with the same request: this is that payment. */
  replayed: boolean;
}

/**
 * The one statement of a hold; see {@link holdPayment}. The balance check is the UPDATE's
 * own WHERE: when another statement changed the payer's row first, PostgreSQL waits for it
 * and checks the condition again on the row as it now is before updating that row. (With a
 * `select … for update` of the payer first and the update after, as this statement once
 * had, holds racing settles on a nearly empty account now and then passed the check and
 * then broke the `held_minor <= balance_minor` constraint, answered INTERNAL; the race test
 * in hold.test.ts showed it every run.)
 */
const HOLD_STATEMENT: PreparedStatement = {
  name: "hold_payment",
  text: `with held as (
     update accounts set held_minor = held_minor + :amount, updated_at = now()
     where owner_id = :userId and currency = :currency and kind = 'USER' and balance_minor - held_minor >= :amount
       and exists (select 1 from accounts where owner_id = :provider and currency = :currency and kind = 'PROVIDER')
     returning id),
   inserted as (
     insert into payments (id, user_id, idempotency_key, request_hash, payer_account_id, payee_account_id,
                           service_id, details, amount_minor, currency, status, created_at, updated_at, trace_parent)
     select :id, :userId, :key, :hash, held.id, payee.id, :serviceId, cast(:details as jsonb), :amount, :currency, 'CREATED', now(), now(), :traceParent
     from held, accounts payee
     where payee.owner_id = :provider and payee.currency = :currency and payee.kind = 'PROVIDER'
     returning ${paymentColumns()}),
   entry as (
     insert into ledger_entries (account_id, payment_id, kind, amount_minor, currency)
     select payer_account_id, id, 'HOLD', :amount, :currency from inserted
     returning id)
   select ${paymentColumns("inserted")},
          exists (select 1 from accounts where owner_id = :userId and currency = :currency and kind = 'USER') as payer_found,
          exists (select 1 from accounts where owner_id = :provider and currency = :currency and kind = 'PROVIDER') as payee_found,
          1 / cast((select count(*) from held) = (select count(*) from entry) as int) as complete
   from (select 1) as one left join inserted on true`,
};

/** The statement's one row: the payment's columns (null when none was inserted) and why. */
type HoldRow = Record<string, unknown> & { payer_found: boolean; payee_found: boolean };

/**
 * Persists the payment as CREATED and holds its amount in one statement, so one round trip
 * and one commit. The payer's row is updated only if its available balance covers the
 * amount (checked on the row's latest version, under its lock: no overdraft under any
 * concurrency), the payment and its ledger entry are written only for a row that was
 * updated, and a key used before makes the insert fail, which undoes the whole statement.
 * So either all of it happens or none of it: no hold without its payment, no second hold
 * for a replayed key. `em` may be the global entity manager: only the rare path loads an
 * entity, in a fork of its own.
 */
export async function holdPayment(em: EntityManager, command: HoldCommand): Promise<HoldResult> {
  const requestHash = holdFingerprint(command);
  let row: HoldRow | undefined;
  try {
    [row] = await namedQuery<HoldRow>(em, HOLD_STATEMENT, {
      id: uuidv7(),
      userId: command.userId,
      key: command.idempotencyKey,
      hash: requestHash,
      serviceId: command.serviceId,
      details: JSON.stringify(command.details),
      amount: command.amountMinor.toString(),
      currency: command.currency,
      provider: providerAccountOwner(command.serviceId),
      traceParent: command.traceParent ?? null,
    });
  } catch (err) {
    // The key was used before (or is being used right now, and that hold committed first).
    if (isUniqueViolationOf(err, "payments_user_idempotency_key_unique"))
      return explainNothingInserted(em, command, requestHash, { payerFound: true, payeeFound: true });
    throw ledgerInvariantErrorOf(err, `hold for ${command.userId}`, "holding", "the payment or its ledger entry") ?? err;
  }
  const { payer_found: payerFound, payee_found: payeeFound, complete: _complete, ...paymentRow } = row!;
  if (paymentRow.id != null) return { payment: toPayment(em, paymentRow), replayed: false };
  return explainNothingInserted(em, command, requestHash, { payerFound, payeeFound });
}

/** The rare path: a replay of the key, a reuse of it for another payment, or a missing account. */
async function explainNothingInserted(
  em: EntityManager,
  command: HoldCommand,
  requestHash: string,
  found: { payerFound: boolean; payeeFound: boolean },
): Promise<HoldResult> {
  const existing = await em.fork().findOne(PaymentSchema, { userId: command.userId, idempotencyKey: command.idempotencyKey });
  if (existing) {
    if (existing.requestHash !== requestHash)
      throw alreadyExists("idempotency_key: already used for a different payment; use a new key for a new payment");
    return { payment: existing, replayed: true };
  }
  if (!found.payerFound) throw failedPrecondition(`you have no ${command.currency} account to pay from`);
  if (!found.payeeFound) throw failedPrecondition(`service ${command.serviceId} does not accept ${command.currency}`);
  throw failedPrecondition(`insufficient funds: the available ${command.currency} balance is less than the amount`);
}
