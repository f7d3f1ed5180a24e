/**
 * How long each service was paused in garbage collection during a run, from the
 * `nodejs_gc_duration_seconds` histogram prom-client exports by default (one series per kind:
 * minor = scavenges of the young generation; major and incremental = the full collection of
 * the old generation, in its final pause and its incremental marking steps).
 */

/** Seconds spent in collections so far, by what they collected. */
export interface GcSeconds {
  young: number;
  full: number;
}

/** Per service, the share of a run's wall time spent paused in each kind of collection. */
export type GcPauseShare = Partial<Record<string, { young: number; full: number }>>;

const SUM = /^nodejs_gc_duration_seconds_sum\{[^}]*kind="(\w+)"[^}]*\} (\S+)$/;

/** The cumulative GC seconds in one service's /metrics text. */
export function readGcSeconds(text: string): GcSeconds {
  const seconds: GcSeconds = { young: 0, full: 0 };
  for (const line of text.split("\n")) {
    const match = SUM.exec(line);
    if (!match) continue;
    if (match[1] === "minor") seconds.young += Number(match[2]);
    else if (match[1] === "major" || match[1] === "incremental") seconds.full += Number(match[2]);
  }
  return seconds;
}

/** Shares (0..1) of `wallMs` spent in each kind, per service read both times. */
export function gcPauseShare(before: Map<string, GcSeconds>, after: Map<string, GcSeconds>, wallMs: number): GcPauseShare {
  const share: GcPauseShare = {};
  for (const [service, end] of after) {
    const start = before.get(service);
    if (!start || wallMs <= 0) continue;
    share[service] = { young: ((end.young - start.young) * 1000) / wallMs, full: ((end.full - start.full) * 1000) / wallMs };
  }
  return share;
}
