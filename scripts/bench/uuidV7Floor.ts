/**
 * The smallest UUID whose version-7 timestamp is `ms` (Unix milliseconds): every payment id
 * Processing makes at or after that moment sorts at or above it, in PostgreSQL's uuid order as
 * in text order. `id >= floor` lets a query of one run's payments walk the primary key from the
 * run's start instead of scanning every payment the benchmark has made so far.
 */
export function uuidV7Floor(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= 2 ** 48) throw new RangeError(`not a 48-bit millisecond timestamp: ${ms}`);
  const hex = ms.toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}
