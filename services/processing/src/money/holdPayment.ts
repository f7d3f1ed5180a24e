import type { EntityManager } from "@mikro-orm/postgresql";
import { v7 as uuidv7 } from "uuid";
import { providerAccountOwner } from "@payments/catalog/catalog";
import { alreadyExists, failedPrecondition } from "@payments/common/grpc/errors";
import { PaymentSchema, type Payment } from "../db/entities/payment.entity.js";
import { holdFingerprint } from "../domain/paymentRules.js";
import { query, toPayment } from "./sql.js";

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

/** Thrown inside the transaction when a concurrent request with the same key committed first. */
class IdempotencyKeyTakenError extends Error {}

/**
 * Persists the payment as CREATED and holds its amount, in one transaction. The hold is a
 * conditional update (`available >= amount`) on the payer's row, so concurrent holds can
 * never overdraw the account; if it fails nothing at all is written.
 */
export async function holdPayment(em: EntityManager, command: HoldCommand): Promise<HoldResult> {
  const requestHash = holdFingerprint(command);
  const existing = await findByKey(em, command.userId, command.idempotencyKey);
  if (existing) return replayOf(existing, requestHash);
  try {
    const payment = await em.transactional((tx) => insertAndHold(tx, command, requestHash));
    return { payment, replayed: false };
  } catch (err) {
    if (!(err instanceof IdempotencyKeyTakenError)) throw err;
    const winner = await findByKey(em, command.userId, command.idempotencyKey);
    if (!winner) throw err;
    return replayOf(winner, requestHash);
  }
}

async function insertAndHold(tx: EntityManager, command: HoldCommand, requestHash: string): Promise<Payment> {
  const [payer] = await query<{ id: string }>(
    tx,
    "select id from accounts where owner_id = ? and currency = ? and kind = 'USER'",
    [command.userId, command.currency],
  );
  if (!payer) throw failedPrecondition(`you have no ${command.currency} account to pay from`);
  const [payee] = await query<{ id: string }>(tx, "select id from accounts where owner_id = ? and currency = ? and kind = 'PROVIDER'", [
    providerAccountOwner(command.serviceId),
    command.currency,
  ]);
  if (!payee) throw failedPrecondition(`service ${command.serviceId} does not accept ${command.currency}`);

  // Inserting first makes a concurrent request with the same key wait for this one.
  const [row] = await query(
    tx,
    `insert into payments (id, user_id, idempotency_key, request_hash, payer_account_id, payee_account_id,
                           service_id, details, amount_minor, currency, status, created_at, updated_at)
     values (?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, 'CREATED', now(), now())
     on conflict (user_id, idempotency_key) do nothing
     returning *`,
    [
      uuidv7(),
      command.userId,
      command.idempotencyKey,
      requestHash,
      payer.id,
      payee.id,
      command.serviceId,
      JSON.stringify(command.details),
      command.amountMinor.toString(),
      command.currency,
    ],
  );
  if (!row) throw new IdempotencyKeyTakenError();
  const payment = toPayment(tx, row);

  const held = await query(
    tx,
    `update accounts set held_minor = held_minor + ?, updated_at = now()
     where id = ? and balance_minor - held_minor >= ?
     returning id`,
    [command.amountMinor.toString(), payer.id, command.amountMinor.toString()],
  );
  if (held.length === 0) throw failedPrecondition(`insufficient funds: the available ${command.currency} balance is less than the amount`);

  await query(tx, "insert into ledger_entries (account_id, payment_id, kind, amount_minor, currency) values (?, ?, 'HOLD', ?, ?)", [
    payer.id,
    payment.id,
    command.amountMinor.toString(),
    command.currency,
  ]);
  return payment;
}

function findByKey(em: EntityManager, userId: string, idempotencyKey: string): Promise<Payment | null> {
  return em.fork().findOne(PaymentSchema, { userId, idempotencyKey });
}

function replayOf(existing: Payment, requestHash: string): HoldResult {
  if (existing.requestHash !== requestHash)
    throw alreadyExists("idempotency_key: already used for a different payment; use a new key for a new payment");
  return { payment: existing, replayed: true };
}
