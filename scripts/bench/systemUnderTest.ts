import { execFileSync } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { loadOrCreateDevKeys, type DevKeys } from "@payments/common/auth/devKeys";
import { defaultDataDir } from "@payments/common/paths";
import { RunningSystem, TEST_NATS_URL } from "../../test/support/system.js";
import { serviceEntry, type ServiceName } from "../lib/childProcess.js";
import { freePort } from "../lib/freePort.js";
import { repoRoot } from "@payments/common/paths";
import type { BenchOptions } from "./options.js";
import { pidListeningOn, pidsByCommandLine } from "./procStats.js";

/** The system being measured, started here or already running. */
export interface SystemUnderTest {
  /** host:port of the public PaymentService. */
  paymentAddress: string;
  databaseUrl: string;
  keys: DevKeys;
  /** What it runs against, for the report. */
  description: string;
  /** Pid of each service process found on this machine. */
  servicePids(): Partial<Record<ServiceName, number>>;
  /** Ports of the services' /metrics endpoints, where the benchmark can read them. */
  metricsPorts: Partial<Record<ServiceName, number>>;
  /** Pid of the NATS server, when it runs on this machine. */
  natsPid(): number | undefined;
  stop(): Promise<void>;
}

const SERVICES: ServiceName[] = ["payment", "processing", "gateway"];

/**
 * Starts the three services exactly as the whole-system tests do (test/support/system.ts:
 * the machine's PostgreSQL and NATS, a database and a stream of its own, free ports), so
 * any setting those tests learn to pass is passed here too. Logs at "warn": a log line
 * per payment would be measured as part of the system.
 */
export async function startSystem(options: BenchOptions, profileDir: string): Promise<SystemUnderTest> {
  const common: Record<string, string> = { LOG_LEVEL: "warn" };
  // Metrics on, as in production: the cost is measured, and the histograms tell server time apart.
  const metricsPorts = { payment: await freePort(), processing: await freePort(), gateway: await freePort() };
  if (options.profile) {
    // Node refuses --cpu-prof in NODE_OPTIONS; a preloaded module runs the same profiler.
    common.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --import ${pathToFileURL(path.join(import.meta.dirname, "cpuProfiler.mjs")).href}`.trim();
    common.BENCH_CPU_PROF_DIR = profileDir;
  }
  const built = !options.fromSource;
  if (built) {
    // Production runs the compiled services; tsx's loader costs memory and start-up time.
    process.stderr.write("[bench] building (npm run build)…\n");
    execFileSync("npm", ["run", "-s", "build"], { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"] });
  }
  const system = await RunningSystem.start({
    built,
    env: {
      payment: { ...common, METRICS_PORT: String(metricsPorts.payment) },
      processing: { ...common, METRICS_PORT: String(metricsPorts.processing), DB_POOL_MAX: String(options.dbPool) },
      gateway: {
        ...common,
        METRICS_PORT: String(metricsPorts.gateway),
        PROVIDER_LATENCY_MS: String(options.providerLatencyMs),
        PROVIDER_LATENCY_JITTER_MS: String(options.providerJitterMs),
        GATEWAY_CONCURRENCY: String(options.gatewayConcurrency),
        GATEWAY_SETTLE_CONCURRENCY: String(options.gatewaySettleConcurrency),
      },
    },
  });
  const natsPort = Number(new URL(TEST_NATS_URL).port || 4222);
  return {
    paymentAddress: `127.0.0.1:${system.ports.payment}`,
    databaseUrl: system.databaseUrl,
    keys: await loadOrCreateDevKeys(system.keysDir),
    metricsPorts,
    description: `services started here against PostgreSQL ${new URL(system.databaseUrl).host} (database ${new URL(system.databaseUrl).pathname.slice(1)}) and NATS ${TEST_NATS_URL} (stream ${system.stream})`,
    servicePids: () =>
      Object.fromEntries(SERVICES.map((name) => [name, pidsByCommandLine(path.relative(repoRoot, serviceEntry(name, built)), process.pid)[0]]).filter(([, pid]) => pid)),
    natsPid: () => pidListeningOn(natsPort),
    stop: () => system.stop(),
  };
}

/** A system started elsewhere (npm start, compose); its processes are measured if they run on this machine. */
export async function targetSystem(options: BenchOptions): Promise<SystemUnderTest> {
  const paymentPort = Number(options.target!.split(":").pop());
  return {
    paymentAddress: options.target!,
    databaseUrl: options.databaseUrl!,
    keys: await loadOrCreateDevKeys(options.devKeysDir ?? path.join(defaultDataDir, "dev-keys")),
    // Where a running system exports its metrics is not known here.
    metricsPorts: {},
    description: `running system at ${options.target} (database ${options.databaseUrl!.replace(/:[^:@/]*@/, ":***@")})`,
    servicePids: () => {
      const pids: Partial<Record<ServiceName, number>> = {};
      const payment = pidListeningOn(paymentPort);
      if (payment) pids.payment = payment;
      for (const name of ["processing", "gateway"] as const) {
        const found = pidsByCommandLine(`services/${name}/`);
        // Several candidates (another run's services) cannot be told apart: measure none.
        if (found.length === 1) pids[name] = found[0];
      }
      return pids;
    },
    natsPid: () => pidListeningOn(4222),
    stop: async () => undefined,
  };
}
