import { setTimeout as sleep } from "node:timers/promises";
import type { DatabaseProbe } from "./measure.js";

/** What the database's busy backends were doing, as shares of all samples of busy backends. */
export interface WaitProfile {
  /** Busy backends seen per sample, on average. */
  meanActive: number;
  /** Share (0-1) of busy-backend samples per class: cpu, wal, lock, io, client, other. */
  shares: Record<string, number>;
}

/**
 * Groups PostgreSQL's wait events into what limits a statement: running (no wait event:
 * on a CPU or waiting for one), the WAL (a commit waiting for its flush to disk, or for the
 * WAL write lock), a row or transaction lock, other disk reads, the client.
 */
function classify(type: string | null, event: string | null): string {
  if (type === null) return "cpu";
  if (event?.startsWith("WAL")) return "wal";
  if (type === "Lock") return "lock";
  if (type === "IO") return "io";
  if (type === "Client") return "client";
  return "other";
}

/**
 * Samples `pg_stat_activity` every `intervalMs` while `running()` holds: each busy backend
 * of the run's database counts once per sample, by what it waits for.
 */
export async function sampleWaits(probe: DatabaseProbe, running: () => boolean, intervalMs = 100): Promise<WaitProfile> {
  const counts: Record<string, number> = {};
  let samples = 0;
  let busy = 0;
  while (running()) {
    const rows = await probe.query<{ type: string | null; event: string | null }>(
      `select wait_event_type as type, wait_event as event from pg_stat_activity
       where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`,
    );
    samples++;
    for (const row of rows) {
      const group = classify(row.type, row.event);
      counts[group] = (counts[group] ?? 0) + 1;
      busy++;
    }
    await sleep(intervalMs);
  }
  const shares = Object.fromEntries(Object.entries(counts).map(([group, n]) => [group, n / Math.max(1, busy)]));
  return { meanActive: busy / Math.max(1, samples), shares };
}
