import { setTimeout as sleep } from "node:timers/promises";
import type { ServiceName } from "../lib/childProcess.js";
import type { LiveCounters, LoadResult } from "./load.js";
import type { PgClient } from "./pg.js";
import { cpuDeltaMs, snapshotCpu, type CpuSnapshot } from "./procStats.js";
import { gcPauseShare, readGcSeconds, type GcPauseShare } from "./gcTime.js";
import { fetchMetricsTexts, ServerLatencyProbe, type ServerLatency } from "./serverLatency.js";
import type { SystemUnderTest } from "./systemUnderTest.js";
import { uuidV7Floor } from "./uuidV7Floor.js";
import { sampleWaits, type WaitProfile } from "./waitEvents.js";

/** Processes whose CPU is charged to the payments of a run. */
export type CpuOwner = ServiceName | "postgres" | "nats" | "loadgen";

/** One measured run: the client's view plus what the database and /proc saw. */
export interface RunResult extends LoadResult {
  name: string;
  /** Payments of the run that reached APPROVED or REJECTED, and of those REJECTED. */
  terminal: number;
  rejected: number;
  /** Resolutions per second in the second half of the load window (steady state). */
  settledPerS: number;
  /** Time from the end of the load until the last payment of the run was resolved. */
  drainMs: number;
  /** Every payment was resolved before the drain timeout. */
  drained: boolean;
  /** The run drained, and in the second half of the load as many payments were resolved as created (within 5%). */
  keptUp: boolean;
  createToTerminalMs: { p50: number; p99: number };
  cpuMsPerPayment: Partial<Record<CpuOwner, number>>;
  commitsPerPayment: number;
  /** What PostgreSQL's busy backends waited for while the load ran. */
  waits: WaitProfile;
  /** The services' own timing of the run's calls (empty for a system whose metrics are not reachable). */
  serverLatency: ServerLatency;
  /** Per service (whose metrics are reachable), the share of the run's wall time paused in garbage collection. */
  gcPause: GcPauseShare;
  /** Database terminal count and client accepted count, about once a second. */
  timeline: Array<{ tMs: number; accepted: number; terminal: number }>;
}

/** Reads the database on its own connection, counting its own commits so they can be left out. */
export class DatabaseProbe {
  ownCommits = 0;
  constructor(private readonly db: PgClient) {}

  async query<Row>(sql: string, values?: unknown[]): Promise<Row[]> {
    this.ownCommits++;
    return (await this.db.query<Row>(sql, values)).rows;
  }

  /**
   * Vacuums and analyses this database's tables, as autovacuum would, so each run starts
   * from the same state. Every Hold and Settle leaves dead versions of the payer's and the
   * provider's account rows and of the payment's row; with autovacuum off (as on the
   * development VM) they pile up, and the ceiling measured after the closed loops came out
   * at 60-80 % of the one before.
   */
  async vacuum(): Promise<void> {
    await this.query("vacuum analyze");
  }

  async commits(): Promise<number> {
    const [row] = await this.query<{ n: string }>("select xact_commit as n from pg_stat_database where datname = current_database()");
    return Number(row!.n) - this.ownCommits;
  }

  /** Backends of this database and PostgreSQL's own background processes (not other databases' backends). */
  async postgresPids(): Promise<number[]> {
    const rows = await this.query<{ pid: number }>("select pid from pg_stat_activity where datname = current_database() or datname is null");
    return rows.map((row) => row.pid);
  }

  /**
   * The run's payments by status. With `createdSinceMs`, only payments whose ids are no older
   * than that are looked at, through the primary key: a scan of every payment made so far
   * (tens of thousands late in a benchmark) took ~10 ms of PostgreSQL's CPU, once a second,
   * while the load ran. Without it, every payment is looked at: exact whatever the clocks.
   */
  async terminalCount(runKey: string, createdSinceMs?: number): Promise<{ terminal: number; pending: number }> {
    const [row] = await this.query<{ terminal: string; pending: string }>(
      `select count(*) filter (where status <> 'CREATED') as terminal, count(*) filter (where status = 'CREATED') as pending
       from payments where idempotency_key like $1 and ($2::uuid is null or id >= $2::uuid)`,
      [`${runKey}-%`, createdSinceMs === undefined ? null : uuidV7Floor(createdSinceMs)],
    );
    return { terminal: Number(row!.terminal), pending: Number(row!.pending) };
  }
}

/** How far Processing's clock may trail this one before the timeline undercounts a run's payments. */
const TIMELINE_CLOCK_MARGIN_MS = 5_000;

interface Snapshot {
  cpu: Record<CpuOwner, CpuSnapshot>;
  loadgen: NodeJS.CpuUsage;
  commits: number;
}

async function snapshot(system: SystemUnderTest, probe: DatabaseProbe): Promise<Snapshot> {
  const pids = system.servicePids();
  const nats = system.natsPid();
  const cpu = {
    payment: snapshotCpu(pids.payment ? [pids.payment] : []),
    processing: snapshotCpu(pids.processing ? [pids.processing] : []),
    gateway: snapshotCpu(pids.gateway ? [pids.gateway] : []),
    postgres: snapshotCpu(await probe.postgresPids()),
    nats: snapshotCpu(nats ? [nats] : []),
    loadgen: new Map<number, number>(),
  };
  return { cpu, loadgen: process.cpuUsage(), commits: await probe.commits() };
}

const gcSecondsOf = (texts: Map<string, string>) => new Map([...texts].map(([service, text]) => [service, readGcSeconds(text)]));

/**
 * Runs `load` and measures around it: CPU of every process before and after (after the
 * run's last payment was resolved, so settlement work is included), commits, terminal
 * counts over time, the create-to-terminal latency from the payments table.
 */
export async function measureRun(
  name: string,
  system: SystemUnderTest,
  probe: DatabaseProbe,
  runKey: string,
  drainTimeoutMs: number,
  live: LiveCounters,
  load: () => Promise<LoadResult>,
): Promise<RunResult> {
  const metricsBefore = await fetchMetricsTexts(system.metricsPorts);
  const metricsReadAt = Date.now();
  const before = await snapshot(system, probe);
  const timeline: RunResult["timeline"] = [];
  const startedWall = Date.now();
  let sampling = true;
  // The timeline is only a picture of the run: it looks at payments made since a little before
  // it started (Processing's clock, which here is this machine's), not at the whole table.
  const timelineSince = startedWall - TIMELINE_CLOCK_MARGIN_MS;
  const sampler = (async () => {
    while (sampling) {
      const { terminal } = await probe.terminalCount(runKey, timelineSince);
      timeline.push({ tMs: Date.now() - startedWall, accepted: live.accepted, terminal });
      await sleep(1000);
    }
  })();

  let loading = true;
  const waits = sampleWaits(probe, () => loading);
  const result = await load().finally(() => (loading = false));
  const loadEndWall = startedWall + result.durationS * 1000;

  const drainStarted = Date.now();
  let drained = false;
  while (Date.now() - drainStarted < drainTimeoutMs) {
    if ((await probe.terminalCount(runKey)).pending === 0) {
      drained = true;
      break;
    }
    await sleep(100);
  }
  sampling = false;
  await sampler;
  const metricsAfter = await fetchMetricsTexts(system.metricsPorts);
  const metricsWallMs = Date.now() - metricsReadAt;
  // Backends report their commit counts to pg_stat_database up to a second late.
  await sleep(1200);
  const after = await snapshot(system, probe);

  const [stats] = await probe.query<{ terminal: string; rejected: string; last_resolved: Date | null; p50: number | null; p99: number | null; steady: string; steady_created: string }>(
    `select count(*) filter (where status <> 'CREATED') as terminal,
            count(*) filter (where status = 'REJECTED') as rejected,
            max(resolved_at) as last_resolved,
            percentile_cont(0.5) within group (order by extract(epoch from resolved_at - created_at) * 1000) as p50,
            percentile_cont(0.99) within group (order by extract(epoch from resolved_at - created_at) * 1000) as p99,
            count(*) filter (where resolved_at >= to_timestamp($2::float8 / 1000) and resolved_at < to_timestamp($3::float8 / 1000)) as steady,
            count(*) filter (where created_at >= to_timestamp($2::float8 / 1000) and created_at < to_timestamp($3::float8 / 1000)) as steady_created
     from payments where idempotency_key like $1`,
    [`${runKey}-%`, (startedWall + loadEndWall) / 2, loadEndWall],
  );
  const terminal = Number(stats!.terminal);
  const settledPerS = Number(stats!.steady) / ((loadEndWall - startedWall) / 2000);
  const payments = Math.max(1, result.accepted);
  const cpuMsPerPayment: Partial<Record<CpuOwner, number>> = {};
  for (const owner of ["payment", "processing", "gateway", "postgres", "nats"] as const)
    if (after.cpu[owner].size > 0) cpuMsPerPayment[owner] = cpuDeltaMs(before.cpu[owner], after.cpu[owner]) / payments;
  const loadgenUs = after.loadgen.user - before.loadgen.user + after.loadgen.system - before.loadgen.system;
  cpuMsPerPayment.loadgen = loadgenUs / 1000 / payments;
  const lastResolved = stats!.last_resolved ? new Date(stats!.last_resolved).getTime() : loadEndWall;

  return {
    ...result,
    name,
    terminal,
    rejected: Number(stats!.rejected),
    settledPerS,
    drainMs: Math.max(0, lastResolved - loadEndWall),
    drained,
    // Resolutions against creations in the same window: a gateway falling behind shows as a gap.
    keptUp: drained && Number(stats!.steady) >= 0.95 * Number(stats!.steady_created),
    createToTerminalMs: { p50: stats!.p50 ?? Number.NaN, p99: stats!.p99 ?? Number.NaN },
    cpuMsPerPayment,
    commitsPerPayment: (after.commits - before.commits) / payments,
    serverLatency: ServerLatencyProbe.between(ServerLatencyProbe.read(metricsBefore), ServerLatencyProbe.read(metricsAfter)),
    gcPause: gcPauseShare(gcSecondsOf(metricsBefore), gcSecondsOf(metricsAfter), metricsWallMs),
    waits: await waits,
    timeline,
  };
}
