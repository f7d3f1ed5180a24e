import type { CeilingResult } from "./ceiling.js";
import type { CpuOwner, RunResult } from "./measure.js";
import { P99_OBJECTIVE_MS } from "./load.js";
import { TIMED_RPCS } from "./serverLatency.js";

/** A target the issue set, checked against one run's figures. */
export interface TargetCheck {
  target: string;
  measured: string;
  pass: boolean | undefined;
}

const MB = 1024 * 1024;
const f = (value: number | undefined, digits = 1) => (value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** The best closed-loop run: the highest rate at which payments were both accepted and settled. */
export function sustainedPerS(run: RunResult): number {
  return Math.min(run.acceptedPerS, run.settledPerS);
}

const P99_TARGET = `CreatePayment p99 < ${P99_OBJECTIVE_MS} ms at 50% of max`;

/** "61 calls over 20 ms, 55 of them within one second from 7.2 s". */
function describeSlowCalls(run: RunResult): string {
  const slow = run.slowCalls;
  if (slow.count === 0) return `no call over ${slow.overMs} ms`;
  return `${slow.count} calls over ${slow.overMs} ms, ${slow.mostInOneSecond} of them within one second from ${f(slow.atS)} s`;
}

/** Checks the issue's targets; a target without the run it needs is "n/a", not a failure. */
export function checkTargets(
  ceiling: CeilingResult | undefined,
  best: RunResult | undefined,
  halfLoad: RunResult | undefined,
  peakRss: Partial<Record<string, number>>,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  if (ceiling && best)
    checks.push({
      target: "settled throughput >= 50% of the SQL ceiling",
      measured: `${f(best.settledPerS)}/s of ${f(ceiling.settledPerS)}/s = ${f((100 * best.settledPerS) / ceiling.settledPerS, 1)}%`,
      pass: best.settledPerS >= 0.5 * ceiling.settledPerS,
    });
  else checks.push({ target: "settled throughput >= 50% of the SQL ceiling", measured: "n/a (needs the ceiling and a closed-loop run)", pass: undefined });
  checks.push(
    halfLoad
      ? {
          target: P99_TARGET,
          measured: `${f(halfLoad.latencyMs.p99)} ms at ${f(halfLoad.offeredPerS)}/s; ${describeSlowCalls(halfLoad)}`,
          pass: halfLoad.latencyMs.p99 < P99_OBJECTIVE_MS,
        }
      : { target: P99_TARGET, measured: "n/a (no open-loop run at 50%)", pass: undefined },
  );
  const rss = Object.entries(peakRss);
  checks.push({
    target: "every service < 200 MB RSS (peak)",
    measured: rss.length ? rss.map(([name, bytes]) => `${name} ${f((bytes ?? 0) / MB, 0)} MB`).join(", ") : "n/a (no local service processes)",
    pass: rss.length ? rss.every(([, bytes]) => (bytes ?? 0) < 200 * MB) : undefined,
  });
  return checks;
}

/** The human-readable report. */
export function formatReport(input: {
  description: string;
  settings: string;
  ceiling?: CeilingResult;
  runs: RunResult[];
  peakRss: Partial<Record<string, number>>;
  targets: TargetCheck[];
}): string {
  const out: string[] = [input.description, input.settings, ""];
  if (input.ceiling) {
    const c = input.ceiling;
    out.push(
      `SQL ceiling (Hold + Settle statements straight to PostgreSQL, ${c.connections} connections, ${f(c.durationS)} s): ` +
        `${f(c.settledPerS)} settled/s` +
        (c.settledPerSBeforeAndAfter
          ? ` (mean of ${f(c.settledPerSBeforeAndAfter[0])} before and ${f(c.settledPerSBeforeAndAfter[1])} after the closed loops)`
          : "") +
        `; per pair p50 ${f(c.pairLatencyP50Ms, 2)} ms, p99 ${f(c.pairLatencyP99Ms, 2)} ms` +
        (c.commitsPerPayment !== undefined ? `; ${f(c.commitsPerPayment, 2)} commits/payment` : "") +
        (c.postgresCpuMsPerPayment !== undefined ? `; PostgreSQL ${f(c.postgresCpuMsPerPayment, 2)} CPU ms/payment` : ""),
      "",
    );
  }
  const ratio = (run: RunResult) => (input.ceiling ? `${f((100 * run.settledPerS) / input.ceiling.settledPerS, 0)}%` : "-");
  out.push(
    table(
      ["run", "offered/s", "accepted/s", "settled/s", "of ceiling", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms", "e2e p50", "e2e p99", "drain s", "kept up"],
      input.runs.map((run) => [
        run.name,
        run.offeredPerS === undefined ? `C=${run.concurrency}` : f(run.offeredPerS),
        f(run.acceptedPerS),
        f(run.settledPerS),
        ratio(run),
        String(run.sent - run.accepted),
        f(run.latencyMs.p50, 2),
        f(run.latencyMs.p95, 2),
        f(run.latencyMs.p99, 2),
        f(run.latencyMs.max, 1),
        f(run.createToTerminalMs.p50, 0),
        f(run.createToTerminalMs.p99, 0),
        f(run.drainMs / 1000, 1),
        run.keptUp ? "yes" : "NO",
      ]),
    ),
    "",
    "CPU ms per payment (utime+stime from /proc, from the start of a run to its last settlement), commits per payment, and the cores",
    "those processes kept busy (half the maximum rate is not half the cores: at lower rates each process does less per wake-up):",
  );
  const owners: CpuOwner[] = ["payment", "processing", "gateway", "postgres", "nats", "loadgen"];
  out.push(
    table(
      ["run", ...owners, "total", "commits", "cores busy"],
      input.runs.map((run) => {
        const values = owners.map((o) => run.cpuMsPerPayment[o]);
        const total = values.reduce<number>((sum, v) => sum + (v ?? 0), 0);
        return [run.name, ...values.map((v) => f(v, 2)), f(total, 2), f(run.commitsPerPayment, 2), f(coresBusy(total, run), 2)];
      }),
    ),
    "",
  );
  if (input.runs.some((run) => Object.keys(run.serverLatency).length > 0)) {
    out.push(
      "The services' own timing (grpc_server_/grpc_client_handling_seconds histograms, estimated within buckets; \"Hold in Payment\": the call as Payment saw it), beside the load generator's:",
      table(
        ["run", "send lag p99", "client p50", "client p99", `over ${P99_OBJECTIVE_MS} ms`, "most in 1 s", ...TIMED_RPCS.flatMap((rpc) => [`${rpc.label} p50`, `${rpc.label} p99`])],
        input.runs.map((run) => [
          run.name,
          f(run.sendLagMs?.p99, 2),
          f(run.latencyMs.p50, 2),
          f(run.latencyMs.p99, 2),
          String(run.slowCalls.count),
          String(run.slowCalls.mostInOneSecond),
          ...TIMED_RPCS.flatMap((rpc) => [f(run.serverLatency[rpc.label]?.p50, 2), f(run.serverLatency[rpc.label]?.p99, 2)]),
        ]),
      ),
      "",
    );
  }
  const gcServices = ["payment", "processing", "gateway"].filter((service) => input.runs.some((run) => run.gcPause[service]));
  if (gcServices.length > 0) {
    out.push(
      "Garbage collection: the share of each run's wall time a service spent paused in it (nodejs_gc_duration_seconds; young: scavenges; full: the old generation's collections with their incremental marking):",
      table(
        ["run", ...gcServices.flatMap((service) => [`${service} young`, `${service} full`])],
        input.runs.map((run) => [
          run.name,
          ...gcServices.flatMap((service) => {
            const share = run.gcPause[service];
            return share ? [`${f(100 * share.young, 1)}%`, `${f(100 * share.full, 1)}%`] : ["-", "-"];
          }),
        ]),
      ),
      "",
    );
  }
  const groups = ["cpu", "wal", "lock", "io", "client", "other"];
  out.push(
    "PostgreSQL backends of this database while the load ran (sampled every 100 ms): busy on average, and what they were doing (cpu: running or waiting for a core; wal: a commit waiting for the WAL flush):",
    table(
      ["run", "busy", ...groups],
      input.runs.map((run) => [run.name, f(run.waits.meanActive, 1), ...groups.map((g) => `${f(100 * (run.waits.shares[g] ?? 0), 0)}%`)]),
    ),
    "",
  );
  const errorRuns = input.runs.filter((run) => Object.keys(run.errors).length > 0);
  for (const run of errorRuns) out.push(`errors in ${run.name}: ${Object.entries(run.errors).map(([k, v]) => `${k} x${v}`).join(", ")}`);
  out.push(`peak RSS (VmHWM): ${Object.entries(input.peakRss).map(([name, bytes]) => `${name} ${f((bytes ?? 0) / MB, 0)} MB`).join(", ") || "n/a"}`, "");
  out.push("targets:");
  for (const check of input.targets) out.push(`  ${check.pass === undefined ? "N/A " : check.pass ? "PASS" : "FAIL"}  ${check.target}: ${check.measured}`);
  return out.join("\n");
}

/**
 * The cores the measured processes kept busy through a run: their CPU per payment times the
 * payments, over the load window and the drain after it. (The CPU is read a second or so
 * later still, once the database has reported its commits; the quiet of that second adds little.)
 */
export function coresBusy(cpuMsPerPayment: number, run: Pick<RunResult, "accepted" | "durationS" | "drainMs">): number {
  return (cpuMsPerPayment * run.accepted) / (run.durationS * 1000 + run.drainMs);
}
