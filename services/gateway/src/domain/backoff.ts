/**
 * Exponential backoff: `baseMs` before the second attempt, doubling with each further
 * attempt, never more than `capMs`. `attempt` is 1-based (a JetStream delivery count or an
 * in-process retry number); anything below 1 counts as 1.
 */
export function backoffDelayMs(attempt: number, baseMs: number, capMs: number): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2 ** n becomes Infinity for very large n, which the cap absorbs.
  return Math.min(capMs, baseMs * 2 ** (n - 1));
}
