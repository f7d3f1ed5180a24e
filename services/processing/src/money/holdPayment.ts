import type { EntityManager } from "@mikro-orm/postgresql";
import { v7 as uuidv7 } from "uuid";
import { providerAccountOwner } from "@payments/catalog/catalog";
import { alreadyExists, failedPrecondition } from "@payments/common/grpc/errors";
import { PaymentSchema, type Payment } from "../db/entities/payment.entity.js";
import { holdFingerprint } from "../domain/paymentRules.js";
import { namedQuery, query, toPayment } from "./sql.js";

/** A validated request to hold money for a new payment. */
export interface HoldCommand {
  userId: string;
  idempotencyKey: string;
  serviceId: string;
  /** payments.v1.PaymentDetails in proto JSON form, already normalised by the caller. */
  details: Record<string, unknown>;
  amountMinor: bigint;
  currency: string;
}

export interface HoldResult {
  payment: Payment;
  /** The key was used before with the same request: this is that payment. */
  replayed: boolean;
}

/** The insert found no row to write: the key is taken, or an account is missing. */
class NothingInsertedError extends Error {}

/**
 * Persists the payment as CREATED and holds its amount, in one transaction of two
 * statements. The hold is a conditional update (`available >= amount`) on the payer's row,
 * so concurrent holds can never overdraw the account; if it fails nothing at all is written.
 */
export async function holdPayment(em: EntityManager, command: HoldCommand): Promise<HoldResult> {
  const requestHash = holdFingerprint(command);
  try {
    const payment = await em.transactional((tx) => insertAndHold(tx, command, requestHash));
    return { payment, replayed: false };
  } catch (err) {
    if (!(err instanceof NothingInsertedError)) throw err;
    return explainNothingInserted(em, command, requestHash);
  }
}

async function insertAndHold(tx: EntityManager, command: HoldCommand, requestHash: string): Promise<Payment> {
  const amount = command.amountMinor.toString();
  // One statement finds both accounts and inserts; a concurrent request with the same key
  // waits here for this one, then inserts nothing.
  const [row] = await namedQuery(
    tx,
    `insert into payments (id, user_id, idempotency_key, request_hash, payer_account_id, payee_account_id,
                           service_id, details, amount_minor, currency, status, created_at, updated_at)
     select :id, :userId, :key, :hash, payer.id, payee.id, :serviceId, cast(:details as jsonb), :amount, :currency, 'CREATED', now(), now()
     from accounts payer, accounts payee
     where payer.owner_id = :userId and payer.currency = :currency and payer.kind = 'USER'
       and payee.owner_id = :provider and payee.currency = :currency and payee.kind = 'PROVIDER'
     on conflict (user_id, idempotency_key) do nothing
     returning *`,
    {
      id: uuidv7(),
      userId: command.userId,
      key: command.idempotencyKey,
      hash: requestHash,
      serviceId: command.serviceId,
      details: JSON.stringify(command.details),
      amount,
      currency: command.currency,
      provider: providerAccountOwner(command.serviceId),
    },
  );
  if (!row) throw new NothingInsertedError();
  const payment = toPayment(tx, row);

  const held = await namedQuery(
    tx,
    `with held as (
       update accounts set held_minor = held_minor + :amount, updated_at = now()
       where id = :payer and balance_minor - held_minor >= :amount
       returning id)
     insert into ledger_entries (account_id, payment_id, kind, amount_minor, currency)
     select id, :paymentId, 'HOLD', :amount, :currency from held
     returning id`,
    { amount, payer: payment.payerAccountId, paymentId: payment.id, currency: command.currency },
  );
  if (held.length === 0) throw failedPrecondition(`insufficient funds: the available ${command.currency} balance is less than the amount`);
  return payment;
}

/** The rare path: a replay of the key, a reuse of it for another payment, or a missing account. */
async function explainNothingInserted(em: EntityManager, command: HoldCommand, requestHash: string): Promise<HoldResult> {
  const existing = await em.fork().findOne(PaymentSchema, { userId: command.userId, idempotencyKey: command.idempotencyKey });
  if (existing) {
    if (existing.requestHash !== requestHash)
      throw alreadyExists("idempotency_key: already used for a different payment; use a new key for a new payment");
    return { payment: existing, replayed: true };
  }
  const [payer] = await query(em, "select 1 from accounts where owner_id = ? and currency = ? and kind = 'USER'", [command.userId, command.currency]);
  if (!payer) throw failedPrecondition(`you have no ${command.currency} account to pay from`);
  throw failedPrecondition(`service ${command.serviceId} does not accept ${command.currency}`);
}
