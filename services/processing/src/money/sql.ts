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

/**
 * Runs `fn` in one database transaction, given an entity manager bound to it, and commits
 * when `fn` resolves (rolls back when it throws). Unlike `em.transactional()`, it does not
 * record the transaction in MikroORM's AsyncLocalStorage, so only the entity manager given
 * to `fn` works inside it, and it flushes nothing: `fn` writes through SQL. Why: on Node 20
 * the first use of any AsyncLocalStorage turns on a hook that runs on every promise of the
 * process, for the rest of its life; one deposit would slow every later Hold and Settle.
 */
export function inTransaction<T>(em: EntityManager, fn: (tx: EntityManager) => Promise<T>): Promise<T> {
  const tx = em.fork();
  return em.getConnection().transactional((transaction) => {
    tx.setTransactionContext(transaction);
    return fn(tx);
  });
}

/** One SQL statement with positional bindings (`?`). */
export function query<Row = Record<string, unknown>>(em: EntityManager, sql: string, params: unknown[] = []): Promise<Row[]> {
  return run<Row>(em, em.getKnex().raw(sql, params as Knex.RawBinding[]));
}

/**
 * Like {@link query}, with named bindings (`:amount`), for statements that use a value
 * more than once; a {@link PreparedStatement} is prepared on each connection it runs on.
 * In a plain string, which knex reads, casts must be written `cast(:x as uuid)`: `::` would
 * read as a binding.
 */
export function namedQuery<Row = Record<string, unknown>>(
  em: EntityManager,
  sql: string | PreparedStatement,
  bindings: Record<string, unknown>,
): Promise<Row[]> {
  if (typeof sql === "string") return run<Row>(em, em.getKnex().raw(sql, bindings as Knex.ValueDict));
  return runPrepared<Row>(em, driverStatementOf(sql), bindings);
}

/** A prepared statement as the driver takes it: `$1`-style placeholders, and the binding each stands for. */
interface DriverStatement {
  name: string;
  text: string;
  parameters: readonly string[];
}

const driverStatements = new WeakMap<PreparedStatement, DriverStatement>();

/** `:name` not preceded by a colon or a word character (so `::int` and `12:30` are left alone). */
const NAMED_BINDING = /(?<![:\w]):(\w+)/g;

/** The driver's form of `statement`, worked out on its first use and kept. */
export function driverStatementOf(statement: PreparedStatement): DriverStatement {
  let driverStatement = driverStatements.get(statement);
  if (!driverStatement) {
    const parameters: string[] = [];
    const text = statement.text.replace(NAMED_BINDING, (_match, name: string) => {
      let index = parameters.indexOf(name);
      if (index < 0) index = parameters.push(name) - 1;
      return `$${index + 1}`;
    });
    driverStatement = { name: statement.name, text, parameters };
    driverStatements.set(statement, driverStatement);
  }
  return driverStatement;
}

/** The one method of a pg connection this module uses. */
interface DriverConnection {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Where connections come from: knex's client for MikroORM's pool, or a transaction's client,
 * which hands out the transaction's own connection and keeps it on release.
 */
interface ConnectionSource {
  acquireConnection(): Promise<DriverConnection>;
  releaseConnection(connection: DriverConnection): Promise<void>;
}

/**
 * Runs a prepared statement straight on the pg driver, on a connection of MikroORM's own pool
 * or, inside a transaction, on the transaction's connection. Building the statement through
 * knex (named bindings parsed, placeholders renumbered, a runner and its events) on every
 * call took about a sixth of Processing's CPU on Hold and Settle (perf, at 400 payments/s);
 * the pool, its limits, the transactions and the error conversion stay MikroORM's. Both
 * cases must send the very same text: pg refuses a statement name that a connection has
 * prepared with another text, and knex numbers its placeholders differently.
 */
async function runPrepared<Row>(em: EntityManager, statement: DriverStatement, bindings: Record<string, unknown>): Promise<Row[]> {
  const values = statement.parameters.map((parameter) => {
    const value = bindings[parameter];
    if (value === undefined) throw new Error(`statement ${statement.name}: no value for :${parameter}`);
    return value;
  });
  const source = (em.getTransactionContext<Knex.Transaction>() ?? em.getKnex()).client as unknown as ConnectionSource;
  const connection = await source.acquireConnection();
  try {
    return (await connection.query({ name: statement.name, text: statement.text, values })).rows as Row[];
  } catch (err) {
    throw err instanceof Error ? em.getDriver().convertException(err) : err;
  } finally {
    await source.releaseConnection(connection);
  }
}
