/** Thrown when an invariant the schema should make impossible is found broken; nothing was written. */
export class LedgerInvariantError extends Error {
  override name = "LedgerInvariantError";
}

/**
 * SQLSTATE 22012. Hold's and Settle's statements end with a completeness check that divides
 * by zero when a part of them is missing, so that the whole statement fails.
 */
export function isDivisionByZero(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === "22012";
}
