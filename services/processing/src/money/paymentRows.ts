import type { EntityManager } from "@mikro-orm/postgresql";
import type { Payment } from "../db/entities/payment.entity.js";

/**
 * Each property of a payment and its column in `payments`. The type makes every property
 * appear; a test holds the columns to the migrated table.
 */
const PAYMENT_COLUMN_OF: { readonly [Property in keyof Required<Payment>]: string } = {
  id: "id",
  userId: "user_id",
  idempotencyKey: "idempotency_key",
  requestHash: "request_hash",
  payerAccountId: "payer_account_id",
  payeeAccountId: "payee_account_id",
  serviceId: "service_id",
  details: "details",
  amountMinor: "amount_minor",
  currency: "currency",
  status: "status",
  rejectReason: "reject_reason",
  rejectMessage: "reject_message",
  createdAt: "created_at",
  updatedAt: "updated_at",
  resolvedAt: "resolved_at",
  nudgedAt: "nudged_at",
  reviewReason: "review_reason",
  reviewSince: "review_since",
  traceParent: "trace_parent",
};

const PAYMENT_PROPERTIES = Object.entries(PAYMENT_COLUMN_OF) as [keyof Payment, string][];

/** The columns of `payments`, for prepared statements that return a payment. */
export const PAYMENT_COLUMNS: readonly string[] = PAYMENT_PROPERTIES.map(([, column]) => column);

/** {@link PAYMENT_COLUMNS} as a select list, each qualified by `alias` when one is given. */
export function paymentColumns(alias?: string): string {
  return PAYMENT_COLUMNS.map((column) => (alias ? `${alias}.${column}` : column)).join(", ");
}

/** Timestamps arrive as text: MikroORM's connection has pg leave them to the platform to parse. */
const DATE_PROPERTIES = ["createdAt", "updatedAt", "resolvedAt", "nudgedAt", "reviewSince"] as const satisfies (keyof Payment)[];

/**
 * A raw `payments` row (all of {@link PAYMENT_COLUMNS}) as a payment. Not `em.map()`: a
 * managed entity (identity map, change tracking) is of no use to a statement's result, and
 * building one took ~14 % of Processing's CPU at load. A test holds this to `em.map()`.
 */
export function toPayment(em: EntityManager, row: Record<string, unknown>): Payment {
  const payment = {} as Record<keyof Payment, unknown>;
  for (const [property, column] of PAYMENT_PROPERTIES) payment[property] = row[column];
  payment.amountMinor = BigInt(row.amount_minor as string);
  const platform = em.getPlatform();
  for (const property of DATE_PROPERTIES) if (payment[property] != null) payment[property] = platform.parseDate(payment[property] as string);
  return payment as Payment;
}
