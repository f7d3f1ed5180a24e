import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { providerAccountOwner } from "@payments/catalog/catalog";
import { signDevToken } from "@payments/common/auth/devToken";
import { repoRoot } from "@payments/common/paths";
import { MikroORM } from "@mikro-orm/postgresql";
import { createOrmConfig } from "@payments/processing/db/mikro-orm.config";
import { meanCeiling, runCeiling, type CeilingResult } from "./ceiling.js";
import { renderChart } from "./chart.js";
import { LoadGenerator } from "./loadGenerator.js";
import { describeMachine, machineLabel } from "./machine.js";
import type { LoadResult } from "./load.js";
import { DatabaseProbe, measureRun, type RunResult } from "./measure.js";
import { parseOptions, USAGE, type BenchOptions } from "./options.js";
import { connectPg, type PgClient } from "./pg.js";
import { cpuDeltaMs, peakRssBytes, snapshotCpu } from "./procStats.js";
import { checkTargets, formatReport, sustainedPerS } from "./report.js";
import { benchUser, HOT_USER, seedAccounts } from "./seed.js";
import { startSystem, targetSystem, type SystemUnderTest } from "./systemUnderTest.js";

const SERVICE_ID = "mobile-top-up";
/** Enough for every payment a long run can make from one account. */
const USER_BALANCE_MINOR = 1_000_000_000n;
const HOT_BALANCE_MINOR = 1_000_000_000_000_000n;

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

/**
 * Each ceiling runs this long unmeasured first: measured cold (the benchmark's own Hold and
 * Settle code not yet optimised, PostgreSQL's buffers and connections fresh), the first
 * ceiling came out 20-45 % below the one after the closed loops, and the ratio looked better
 * than it was.
 */
const CEILING_WARMUP_MS = 5_000;

/** A run-unique idempotency-key prefix, so that a run's payments can be found in the table. */
const runKeyOf = (label: string) => `bench-${Date.now().toString(36)}-${label}`;

async function startLoadGenerator(options: BenchOptions, system: SystemUnderTest): Promise<LoadGenerator> {
  // Tokens are signed up front: signing per call would measure the load generator.
  const payers = options.hot ? [HOT_USER] : Array.from({ length: options.users }, (_, i) => benchUser(i));
  const tokens = await Promise.all(payers.map((userId) => signDevToken(system.keys, userId, 24 * 3600)));
  return LoadGenerator.start({
    paymentAddress: system.paymentAddress,
    tokens,
    channels: options.channels,
    amountMinor: options.amountMinor.toString(),
    deadlineMs: options.deadlineMs,
  });
}

async function measureCeiling(options: BenchOptions, system: SystemUnderTest, probe: DatabaseProbe, keyPrefix: string): Promise<CeilingResult> {
  const orm = await MikroORM.init(createOrmConfig({ databaseUrl: system.databaseUrl, poolMax: options.dbPool }));
  try {
    const ceilingRun = (durationMs: number, prefix: string) =>
      runCeiling(orm, {
        durationMs,
        payer: (n) => (options.hot ? HOT_USER : benchUser(n % options.users)),
        amountMinor: options.amountMinor,
        serviceId: SERVICE_ID,
        connections: options.dbPool,
        keyPrefix: prefix,
      });
    await ceilingRun(CEILING_WARMUP_MS, `${keyPrefix}-warmup`);
    await probe.vacuum();
    const pgBefore = snapshotCpu(await probe.postgresPids());
    const commitsBefore = await probe.commits();
    const result = await ceilingRun(options.ceilingDurationMs, keyPrefix);
    const pgAfter = snapshotCpu(await probe.postgresPids());
    log(`  ${result.settledPerS.toFixed(1)} settled/s`);
    // A backend reports its commits when it exits (otherwise up to 10 s late): close first.
    await orm.close(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const payments = Math.max(1, result.settled);
    result.commitsPerPayment = ((await probe.commits()) - commitsBefore) / payments;
    result.postgresCpuMsPerPayment = cpuDeltaMs(pgBefore, pgAfter) / payments;
    return result;
  } finally {
    // Closing twice is harmless; this one covers a run that failed.
    await orm.close(true).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === "help") {
    process.stdout.write(USAGE);
    return;
  }
  const options = parsed;
  const outDir = path.resolve(repoRoot, options.outDir);
  const profileDir = path.join(outDir, "profiles");
  await mkdir(options.profile ? profileDir : outDir, { recursive: true });

  log(options.target ? `targeting ${options.target}` : "starting the three services…");
  const system = options.target ? await targetSystem(options) : await startSystem(options, profileDir);
  let db: PgClient | undefined;
  let load: LoadGenerator | undefined;
  try {
    db = await connectPg(system.databaseUrl, "bench-probe");
    const probe = new DatabaseProbe(db);
    log(`seeding ${options.hot ? "the hot account" : `${options.users} funded users`}…`);
    await seedAccounts(db, options.hot ? 0 : options.users, USER_BALANCE_MINOR, HOT_BALANCE_MINOR);
    load = await startLoadGenerator(options, system);

    if (options.warmupMs > 0) {
      // Runs at given rates warm up at the first of them: a closed loop would leave a slow
      // provider a backlog that outlasts the drain, and the runs would measure that backlog.
      const warmupRate = options.rates[0];
      log(`warm-up: ${options.warmupMs / 1000} s ${warmupRate === undefined ? "closed loop" : `open loop at ${warmupRate}/s`} (not reported)…`);
      const key = runKeyOf("warmup");
      await measureRun("warm-up", system, probe, key, options.drainTimeoutMs, load.live, () =>
        warmupRate === undefined ? load!.closed(key, options.concurrencies[0]!, options.warmupMs) : load!.open(key, warmupRate, options.warmupMs),
      );
    }

    let ceiling: CeilingResult | undefined;
    if (options.ceiling) {
      log(`SQL ceiling: ${options.dbPool} connections for ${options.ceilingDurationMs / 1000} s, after ${CEILING_WARMUP_MS / 1000} s not measured…`);
      ceiling = await measureCeiling(options, system, probe, "ceiling-before");
    }

    const runs: RunResult[] = [];
    const run = async (name: string, runKey: string, drive: () => Promise<LoadResult>) => {
      log(`${name}…`);
      await probe.vacuum();
      const result = await measureRun(name, system, probe, runKey, options.drainTimeoutMs, load!.live, drive);
      log(
        `  accepted ${result.acceptedPerS.toFixed(1)}/s, settled ${result.settledPerS.toFixed(1)}/s, p99 ${result.latencyMs.p99.toFixed(1)} ms, errors ${result.sent - result.accepted}`,
      );
      runs.push(result);
      return result;
    };

    let best: RunResult | undefined;
    let halfLoad: RunResult | undefined;
    if (options.rates.length > 0) {
      for (const rate of options.rates) {
        const key = runKeyOf(`open${rate}`);
        await run(`open ${rate}/s`, key, () => load!.open(key, rate, options.durationMs));
      }
    } else {
      for (const concurrency of options.concurrencies) {
        const key = runKeyOf(`closed${concurrency}`);
        const result = await run(`closed C=${concurrency}`, key, () => load!.closed(key, concurrency, options.durationMs));
        if (!best || sustainedPerS(result) > sustainedPerS(best)) best = result;
      }
      if (ceiling) {
        log(`SQL ceiling again, after the closed loops (${CEILING_WARMUP_MS / 1000} s not measured first)…`);
        ceiling = meanCeiling(ceiling, await measureCeiling(options, system, probe, "ceiling-after"));
      }
      const max = sustainedPerS(best!);
      for (const fraction of options.fractions) {
        const rate = Math.max(1, Math.round(max * fraction));
        const key = runKeyOf(`open${Math.round(fraction * 100)}`);
        const result = await run(`open ${Math.round(fraction * 100)}%`, key, () => load!.open(key, rate, options.durationMs));
        if (fraction === 0.5) halfLoad = result;
      }
    }

    const peakRss: Partial<Record<string, number>> = {};
    for (const [name, pid] of Object.entries(system.servicePids())) if (pid) peakRss[name] = peakRssBytes(pid);
    const targets = checkTargets(ceiling, best, halfLoad, peakRss);
    const settings =
      `settings: ${options.hot ? "hot (one payer account)" : `${options.users} users`}, ${options.channels} gRPC channels, ` +
      `provider latency ${options.providerLatencyMs} ms + up to ${options.providerJitterMs} ms jitter, GATEWAY_CONCURRENCY ${options.gatewayConcurrency}, GATEWAY_SETTLE_CONCURRENCY ${options.gatewaySettleConcurrency}, ` +
      `DB_POOL_MAX ${options.dbPool}, ${options.durationMs / 1000} s per run, payments of ${options.amountMinor} USD cents`;
    const report = formatReport({ description: system.description, settings, ceiling, runs, peakRss, targets });
    process.stdout.write(`\n${report}\n`);

    const openRuns = runs.filter((r) => r.mode === "open");
    const bars = [
      ...(ceiling ? [{ label: "SQL ceiling", perS: ceiling.settledPerS }] : []),
      ...(best ? [{ label: "accepted max", perS: best.acceptedPerS }, { label: "settled max", perS: best.settledPerS }] : []),
    ];
    if (!best) for (const r of openRuns) bars.push({ label: `settled@${Math.round(r.offeredPerS ?? 0)}`, perS: r.settledPerS });
    const machine = describeMachine();
    const chart = renderChart(
      {
        text: `payment saga, ${options.hot ? "hot account" : `${options.users} users`}, provider ${options.providerLatencyMs} ms, ${new Date().toISOString().slice(0, 10)}`,
        machine: machineLabel(machine),
      },
      openRuns.map((r) => ({ offeredPerS: r.offeredPerS ?? 0, ...r.latencyMs })),
      bars,
      20,
    );
    const json = {
      at: new Date().toISOString(),
      system: system.description,
      machine,
      options: { ...options, amountMinor: options.amountMinor.toString() },
      ceiling,
      runs,
      peakRssBytes: peakRss,
      targets,
    };
    await writeFile(path.join(outDir, "latest.json"), JSON.stringify(json, null, 2) + "\n");
    await writeFile(path.join(outDir, "latest.svg"), chart);
    if (options.docsChart) {
      await mkdir(path.join(repoRoot, "docs", "bench"), { recursive: true });
      await writeFile(path.join(repoRoot, "docs", "bench", "latest.svg"), chart);
    }
    log(`wrote ${path.relative(repoRoot, path.join(outDir, "latest.json"))} and latest.svg${options.docsChart ? " (chart copied to docs/bench/latest.svg)" : ""}`);
  } finally {
    await load?.close();
    await db?.end().catch(() => undefined);
    log("stopping…");
    await system.stop();
    if (options.profile) log(`CPU profiles (open in Chrome DevTools or speedscope): ${path.relative(repoRoot, profileDir)}/`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
