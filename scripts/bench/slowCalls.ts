/**
 * Whether a run's slow calls were spread over it or bunched in one stretch. A p99 above
 * the objective can come from a little extra latency everywhere, or from one stall of the
 * machine: at 400 calls/s, a stall of 150 ms alone makes 1 % of a 15 s run slow.
 */
export interface SlowCalls {
  /** Calls slower than this count as slow: the p99 objective. */
  overMs: number;
  count: number;
  /** The most slow calls due within any one second of the run, and where that second starts. */
  mostInOneSecond: number;
  /** Seconds from the run's start to the first call of that second. */
  atS: number;
}

const WINDOW_MS = 1000;

/**
 * Counts the calls slower than `overMs` and finds the one-second window (sliding, by the
 * calls' due times in ms from the run's start) that holds the most of them.
 */
export function slowCalls(dueAtMs: ArrayLike<number>, latencyMs: ArrayLike<number>, overMs: number): SlowCalls {
  const due: number[] = [];
  for (let i = 0; i < latencyMs.length; i++) if (latencyMs[i]! > overMs) due.push(dueAtMs[i]!);
  due.sort((a, b) => a - b);
  let most = 0;
  let atMs = 0;
  for (let first = 0, last = 0; last < due.length; last++) {
    while (due[last]! - due[first]! >= WINDOW_MS) first++;
    if (last - first + 1 > most) {
      most = last - first + 1;
      atMs = due[first]!;
    }
  }
  return { overMs, count: due.length, mostInOneSecond: most, atS: atMs / 1000 };
}
