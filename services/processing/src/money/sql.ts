import type { EntityManager, Knex } from "@mikro-orm/postgresql";
import type { Payment } from "../db/entities/payment.entity.js";

/**
 * A statement PostgreSQL parses, analyses and plans once per connection, then only binds
 * and runs: on Hold and Settle, parsing and planning the statements afresh took about 40 %
 * of PostgreSQL's CPU (perf, at half the maximum rate). The name identifies it on each
 * connection, so one name must always carry one text. A cached plan survives migrations
 * that add columns only if its result does not change shape, so these statements name
 * their columns (see {@link PAYMENT_COLUMNS}) instead of `*`.
 */
export interface PreparedStatement {
  name: string;
  text: string;
}

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

/**
 * Runs one SQL statement through MikroORM's knex instance, inside the entity manager's
 * current transaction if it has one, and returns its rows. The values travel as bound
 * parameters; `em.execute()` would first format every value into the SQL text and wrap the
 * result in a second knex query (on Hold and Settle, ~17 of the ~240 KB Processing allocated
 * per payment, by V8's allocation sampling). Driver errors come back as MikroORM's
 * exceptions, as from `em.execute()` (UniqueConstraintViolationException, …).
 */
async function run<Row>(em: EntityManager, statement: Knex.Raw): Promise<Row[]> {
  const transaction = em.getTransactionContext<Knex.Transaction>();
  if (transaction) statement.transacting(transaction);
  try {
    return ((await statement) as unknown as { rows: Row[] }).rows;
  } catch (err) {
    throw err instanceof Error ? em.getDriver().convertException(err) : err;
  }
}

/** One SQL statement with positional bindings (`?`). */
export function query<Row = Record<string, unknown>>(em: EntityManager, sql: string, params: unknown[] = []): Promise<Row[]> {
  return run<Row>(em, em.getKnex().raw(sql, params as Knex.RawBinding[]));
}

/**
 * Like {@link query}, with named bindings (`:amount`), for statements that use a value
 * more than once; a {@link PreparedStatement} is prepared on each connection it runs on.
 * Casts must be written `cast(:x as uuid)`: `::` would read as a binding.
 */
export function namedQuery<Row = Record<string, unknown>>(
  em: EntityManager,
  sql: string | PreparedStatement,
  bindings: Record<string, unknown>,
): Promise<Row[]> {
  if (typeof sql === "string") return run<Row>(em, em.getKnex().raw(sql, bindings as Knex.ValueDict));
  // knex hands its options to the driver's query config, where `name` makes pg prepare it.
  return run<Row>(em, em.getKnex().raw(sql.text, bindings as Knex.ValueDict).options({ name: sql.name }));
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
