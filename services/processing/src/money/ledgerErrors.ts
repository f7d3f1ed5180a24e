import { CheckConstraintViolationException, UniqueConstraintViolationException } from "@mikro-orm/postgresql";

/** Thrown when an invariant the schema should make impossible is found broken; nothing was written. */
export class LedgerInvariantError extends Error {
  override name = "LedgerInvariantError";
}

/** True when `err` is a unique violation of the constraint (or primary key) named `constraint`. */
export function isUniqueViolationOf(err: unknown, constraint: string): boolean {
  return err instanceof UniqueConstraintViolationException && (err as { constraint?: string }).constraint === constraint;
}

/**
 * What a failed Hold or Settle statement means when no expected case explains it: the
 * {@link LedgerInvariantError} to throw, or undefined for any other failure (a lost
 * connection, a deadlock), which the caller rethrows as it is. Both statements end with a
 * completeness check that divides by zero (SQLSTATE 22012) when one of their `parts` is
 * missing; a unique or check constraint stops a write that would break the ledger.
 */
export function ledgerInvariantErrorOf(err: unknown, subject: string, action: string, parts: string): LedgerInvariantError | undefined {
  if ((err as { code?: unknown } | null)?.code === "22012") return new LedgerInvariantError(`${subject}: ${parts} could not be written; nothing was`);
  if (err instanceof UniqueConstraintViolationException || err instanceof CheckConstraintViolationException)
    // MikroORM's message is "<the SQL> - <PostgreSQL's message>"; the statement is in the code.
    return new LedgerInvariantError(`${subject}: ${action} would break the ledger, nothing was written (${err.message.split(" - ").pop()})`);
  return undefined;
}
