import type { EntityManager } from "@mikro-orm/postgresql";
import { v7 as uuidv7 } from "uuid";
import { providerAccountOwner } from "@payments/catalog/catalog";
import { alreadyExists, failedPrecondition } from "@payments/common/grpc/errors";
import { PaymentSchema, type Payment } from "../db/entities/payment.entity.js";
import { holdFingerprint } from "../domain/paymentRules.js";
import { namedQuery, paymentColumns, toPayment, type PreparedStatement } from "./sql.js";

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

/** The one statement of a hold; see {@link holdPayment}. */
const HOLD_STATEMENT: PreparedStatement = {
  name: "hold_payment",
  text: `with payer as (
     select id, balance_minor - held_minor >= :amount as covered
     from accounts where owner_id = :userId and currency = :currency and kind = 'USER'
     for update),
   payee as (
     select id from accounts where owner_id = :provider and currency = :currency and kind = 'PROVIDER'),
   inserted as (
     insert into payments (id, user_id, idempotency_key, request_hash, payer_account_id, payee_account_id,
                           service_id, details, amount_minor, currency, status, created_at, updated_at, trace_parent)
     select :id, :userId, :key, :hash, payer.id, payee.id, :serviceId, cast(:details as jsonb), :amount, :currency, 'CREATED', now(), now(), :traceParent
     from payer, payee where payer.covered
     on conflict (user_id, idempotency_key) do nothing
     returning ${paymentColumns()}),
   held as (
     update accounts set held_minor = held_minor + :amount, updated_at = now()
     where id = (select payer_account_id from inserted)
     returning id),
   entry as (
     insert into ledger_entries (account_id, payment_id, kind, amount_minor, currency)
     select payer_account_id, id, 'HOLD', :amount, :currency from inserted
     returning id)
   select ${paymentColumns("inserted")},
          exists (select 1 from payer) as payer_found,
          coalesce((select covered from payer), false) as covered,
          inserted.id is not null and exists (select 1 from held) and exists (select 1 from entry) as inserted
   from (select 1) as one left join inserted on true`,
};

/**
 * Persists the payment as CREATED and holds its amount in one statement, so one round trip
 * and one commit. The payer's row is locked first (`for update`; a concurrent hold waits,
 * then sees the new held amount), the payment is inserted only if the available balance
 * covers it, and the hold and its ledger entry are written only for a payment that was
 * inserted. So either all of it happens or none of it: no overdraft under any concurrency,
 * no hold without its payment, no second hold for a replayed key.
 */
export async function holdPayment(em: EntityManager, command: HoldCommand): Promise<HoldResult> {
  const requestHash = holdFingerprint(command);
  const [row] = await namedQuery<Record<string, unknown> & { payer_found: boolean; covered: boolean; inserted: boolean }>(
    em,
    HOLD_STATEMENT,
    {
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
    },
  );
  const { payer_found: payerFound, covered, inserted, ...paymentRow } = row!;
  if (inserted) return { payment: toPayment(em, paymentRow), replayed: false };
  return explainNothingInserted(em, command, requestHash, { payerFound, covered });
}

/** The rare path: a replay of the key, a reuse of it for another payment, or a missing account. */
async function explainNothingInserted(
  em: EntityManager,
  command: HoldCommand,
  requestHash: string,
  found: { payerFound: boolean; covered: boolean },
): Promise<HoldResult> {
  const existing = await em.fork().findOne(PaymentSchema, { userId: command.userId, idempotencyKey: command.idempotencyKey });
  if (existing) {
    if (existing.requestHash !== requestHash)
      throw alreadyExists("idempotency_key: already used for a different payment; use a new key for a new payment");
    return { payment: existing, replayed: true };
  }
  if (!found.payerFound) throw failedPrecondition(`you have no ${command.currency} account to pay from`);
  if (!found.covered) throw failedPrecondition(`insufficient funds: the available ${command.currency} balance is less than the amount`);
  throw failedPrecondition(`service ${command.serviceId} does not accept ${command.currency}`);
}
