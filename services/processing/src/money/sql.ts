import type { EntityManager, Knex } from "@mikro-orm/postgresql";

/**
 * A statement PostgreSQL parses, analyses and plans once per connection, then only binds
 * and runs: on Hold and Settle, parsing and planning the statements afresh took about 40 %
 * of PostgreSQL's CPU (perf, at half the maximum rate). The name identifies it on each
 * connection, so one name must always carry one text. A cached plan survives migrations
 * that add columns only if its result does not change shape, so these statements name
 * their columns (see paymentRows.ts) instead of `*`.
 */
export interface PreparedStatement {
  name: string;
  text: string;
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
