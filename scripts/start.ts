/**
 * `npm start`: runs the whole system on a developer machine. Starts an embedded PostgreSQL
 * and a nats-server unless DATABASE_URL / NATS_URL point at running ones, then processing,
 * payment and gateway from source, with their logs prefixed and pretty-printed. Ctrl-C
 * stops the services, then NATS, then PostgreSQL.
 */
import path from "node:path";
import { loadOrCreateDevKeys } from "@payments/common/auth/devKeys";
import { defaultDataDir } from "@payments/common/paths";
import { createLinePrinter, spawnService, type ManagedProcess, type ServiceName } from "./lib/childProcess.js";
import { startEmbeddedPostgres, type RunningPostgres } from "./lib/embeddedPostgres.js";
import { findNatsServer, NATS_INSTALL_HINT, startNatsServer, type RunningNats } from "./lib/natsServer.js";
import { waitForHealthy } from "./lib/waitForHealth.js";

const env = process.env;
const say = createLinePrinter("start");

const ports = {
  payment: Number(env.PAYMENT_PORT || 50051),
  processing: Number(env.PROCESSING_PORT || 50052),
  gateway: Number(env.GATEWAY_PORT || 50053),
  postgres: Number(env.EMBEDDED_PG_PORT || 54329),
  nats: Number(env.EMBEDDED_NATS_PORT || 4322),
};
/** First start compiles TypeScript and runs migrations, so allow well over a warm start. */
const HEALTH_TIMEOUT_MS = Number(env.START_HEALTH_TIMEOUT_MS || 90_000);
const SERVICE_STOP_GRACE_MS = 15_000;

let postgres: RunningPostgres | undefined;
let nats: RunningNats | undefined;
const services: ManagedProcess[] = [];
let stopping: Promise<never> | undefined;

/** Stops everything that was started, services first, and exits with `code`. */
function shutdown(code: number, reason: string): Promise<never> {
  stopping ??= (async () => {
    say(reason, "stderr");
    await Promise.all(services.map((service) => service.stop({ graceMs: SERVICE_STOP_GRACE_MS })));
    await nats?.stop().catch((err: Error) => say(`stopping NATS failed: ${err.message}`, "stderr"));
    await postgres?.stop().catch((err: Error) => say(`stopping PostgreSQL failed: ${err.message}`, "stderr"));
    say(code === 0 ? "stopped" : "stopped after a failure", code === 0 ? "stdout" : "stderr");
    process.exit(code);
  })();
  return stopping;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) {
      say(`${signal} again: killing everything now`, "stderr");
      killEverything();
      process.exit(1);
    }
    void shutdown(0, `${signal} received, stopping`);
  });
}

// Children run in their own process groups so that Ctrl-C reaches only this runner; if the
// runner dies anyway, it must not leave them behind.
function killEverything(): void {
  for (const child of [...services, nats?.process, postgres?.process]) {
    if (child && !child.exitInfo()) child.child.kill("SIGKILL");
  }
}
process.on("exit", killEverything);

function startService(name: ServiceName, serviceEnv: NodeJS.ProcessEnv): ManagedProcess {
  const service = spawnService(name, serviceEnv, { detached: true });
  services.push(service);
  void service.exited.then((info) => {
    if (!stopping) void shutdown(1, `${name} exited unexpectedly (code ${info.code}, signal ${info.signal}); stopping everything`);
  });
  return service;
}

async function waitUntilServing(service: ManagedProcess, port: number): Promise<void> {
  // Stop polling as soon as the service dies: the exit handler above reports it.
  const abort = new AbortController();
  void service.exited.then(() => abort.abort());
  await waitForHealthy(`127.0.0.1:${port}`, HEALTH_TIMEOUT_MS, { signal: abort.signal });
}

async function main(): Promise<void> {
  const devKeysDir = env.DEV_KEYS_DIR || path.join(defaultDataDir, "dev-keys");
  await loadOrCreateDevKeys(devKeysDir);

  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    say(`starting embedded PostgreSQL on 127.0.0.1:${ports.postgres} (data in .data/postgres)`, "stdout");
    postgres = await startEmbeddedPostgres({
      dataDir: path.join(defaultDataDir, "postgres"),
      port: ports.postgres,
      password: env.EMBEDDED_PG_PASSWORD || "postgres",
      database: "payments",
      onLine: createLinePrinter("postgres"),
    });
    databaseUrl = postgres.url;
  }
  if (stopping) return;

  let natsUrl = env.NATS_URL;
  if (!natsUrl) {
    const binary = findNatsServer();
    if (!binary) {
      await shutdown(1, NATS_INSTALL_HINT);
      return;
    }
    say(`starting ${binary} with JetStream on 127.0.0.1:${ports.nats} (store in .data/nats)`, "stdout");
    nats = await startNatsServer({ binary, storeDir: path.join(defaultDataDir, "nats"), port: ports.nats, onLine: createLinePrinter("nats") });
    natsUrl = nats.url;
  }
  if (stopping) return;

  const serviceEnv: NodeJS.ProcessEnv = {
    ...env,
    DATABASE_URL: databaseUrl,
    NATS_URL: natsUrl,
    DEV_KEYS_DIR: devKeysDir,
    PAYMENT_PORT: String(ports.payment),
    PROCESSING_PORT: String(ports.processing),
    GATEWAY_PORT: String(ports.gateway),
    PROCESSING_ADDR: env.PROCESSING_ADDR || `127.0.0.1:${ports.processing}`,
    // The stub provider declines this number, so the demo can show a rejection too.
    PROVIDER_DECLINED_NUMBERS: env.PROVIDER_DECLINED_NUMBERS ?? "+14155550199",
    PROVIDER_LATENCY_MS: env.PROVIDER_LATENCY_MS ?? "300",
  };

  // Payment and gateway call processing from their first request, so it comes up first.
  const processing = startService("processing", serviceEnv);
  await waitUntilServing(processing, ports.processing);
  if (stopping) return;
  const payment = startService("payment", serviceEnv);
  const gateway = startService("gateway", serviceEnv);
  await Promise.all([waitUntilServing(payment, ports.payment), waitUntilServing(gateway, ports.gateway)]);
  if (stopping) return;

  printBanner(databaseUrl, natsUrl);
}

function printBanner(databaseUrl: string, natsUrl: string): void {
  const addr = ports.payment === 50051 ? "" : ` --addr 127.0.0.1:${ports.payment}`;
  const safeDbUrl = databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
  const lines = [
    "",
    "All services are up:",
    `  payment     127.0.0.1:${ports.payment}   (public gRPC API)`,
    `  processing  127.0.0.1:${ports.processing}`,
    `  gateway     127.0.0.1:${ports.gateway}   (health only)`,
    `  PostgreSQL  ${safeDbUrl}`,
    `  NATS        ${natsUrl}`,
    "",
    "Try, in another terminal:",
    "  npm run token -- alice",
    `  npm run pay -- --user alice --service mobile-top-up --phone +14155550123 --amount 10.00 --currency USD${addr}`,
    `  npm run pay -- --user alice --service mobile-top-up --phone +14155550199 --amount 5.00 --currency USD${addr}   # declined by the stub provider`,
    `  npm run pay -- --user alice${addr}   # asks for what is missing`,
    `  npm run account -- --user alice${addr}`,
    `  npm run payments -- --user alice${addr}`,
    "",
    "Ctrl-C stops everything.",
    "",
  ];
  for (const line of lines) say(line, "stdout");
}

main().catch((err: unknown) => {
  void shutdown(1, `failed to start: ${err instanceof Error ? err.message : String(err)}`);
});
