import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { MikroORM, type EntityManager } from "@mikro-orm/postgresql";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { loadOrCreateDevKeys, type DevKeys } from "@payments/common/auth/devKeys";
import { signDevToken } from "@payments/common/auth/devToken";
import { PaymentServiceClient } from "@payments/contracts/gen/payments/v1/payment_service";
import { dropDatabase, uniqueDatabaseUrl } from "@payments/testing/database";
import { spawnService, type ManagedProcess, type ServiceName } from "../../scripts/lib/childProcess.js";
import { waitForHealthy } from "../../scripts/lib/waitForHealth.js";
import { createOrmConfig } from "../../services/processing/src/db/mikro-orm.config.js";
import { deposit, openAccount } from "../../services/processing/src/money/deposit.js";
import { freePort } from "../../scripts/lib/freePort.js";

export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** Phone number the gateway's stub provider declines in whole-system tests. */
export const DECLINED_PHONE = "+14155550199";

export interface SystemOptions {
  /** Extra settings per service, e.g. provider rules for the gateway. */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Run the compiled services (dist/, after `npm run build`) instead of the source. */
  built?: boolean;
}

/**
 * The three services as separate processes against the machine's PostgreSQL and NATS,
 * isolated by a database, a stream and a consumer of their own, on free ports.
 */
export class RunningSystem {
  private readonly processes = new Map<ServiceName, ManagedProcess>();
  private readonly logs: string[] = [];
  private clients: PaymentServiceClient[] = [];
  /** Opened once Processing has created and migrated the database. */
  private orm?: MikroORM;

  private constructor(
    readonly databaseUrl: string,
    readonly stream: string,
    readonly ports: Record<ServiceName, number>,
    readonly keysDir: string,
    private readonly keys: DevKeys,
    private readonly options: SystemOptions,
  ) {}

  static async start(options: SystemOptions = {}): Promise<RunningSystem> {
    const keysDir = await mkdtemp(path.join(os.tmpdir(), "payments-keys-"));
    const keys = await loadOrCreateDevKeys(keysDir);
    const ports = { processing: await freePort(), payment: await freePort(), gateway: await freePort() };
    const databaseUrl = uniqueDatabaseUrl("payments_e2e");
    const stream = `payment2_e2e_${randomBytes(4).toString("hex")}`;
    const system = new RunningSystem(databaseUrl, stream, ports, keysDir, keys, options);
    await system.startService("processing");
    system.orm = await MikroORM.init(createOrmConfig({ databaseUrl, poolMax: 4 }));
    await Promise.all([system.startService("payment"), system.startService("gateway")]);
    return system;
  }

  /** The environment a service is started with. */
  envOf(name: ServiceName): NodeJS.ProcessEnv {
    const processingAddr = `127.0.0.1:${this.ports.processing}`;
    // METRICS_PORT 0 (off) unless a test asks for it: parallel systems must not share a port.
    const common = { ...process.env, GRPC_HOST: "127.0.0.1", LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "info", NODE_ENV: "test", METRICS_PORT: "0" };
    const own: Record<ServiceName, Record<string, string>> = {
      // One keys folder for all: Processing trusts the service keys the others sign with.
      processing: {
        PROCESSING_PORT: String(this.ports.processing),
        DATABASE_URL: this.databaseUrl,
        SEED_DEMO_DATA: "false",
        DEV_KEYS_DIR: this.keysDir,
      },
      payment: {
        PAYMENT_PORT: String(this.ports.payment),
        PROCESSING_ADDR: processingAddr,
        NATS_URL: TEST_NATS_URL,
        PAYMENT_STREAM: this.stream,
        DEV_KEYS_DIR: this.keysDir,
      },
      gateway: {
        GATEWAY_PORT: String(this.ports.gateway),
        PROCESSING_ADDR: processingAddr,
        NATS_URL: TEST_NATS_URL,
        PAYMENT_STREAM: this.stream,
        GATEWAY_CONSUMER: "gateway",
        DEV_KEYS_DIR: this.keysDir,
        PROVIDER_LATENCY_MS: "20",
        PROVIDER_DECLINED_NUMBERS: DECLINED_PHONE,
      },
    };
    return { ...common, ...own[name], ...(this.options.env?.[name] ?? {}) };
  }

  async startService(name: ServiceName): Promise<void> {
    const child = spawnService(name, this.envOf(name), {
      built: this.options.built,
      onLine: (line) => {
        this.logs.push(`[${name}] ${line}`);
        if (this.logs.length > 5_000) this.logs.shift();
      },
    });
    this.processes.set(name, child);
    const exitedEarly = new AbortController();
    void child.exited.then(() => exitedEarly.abort(new Error(`${name} exited during start:\n${this.recentLogs(30)}`)));
    await waitForHealthy(`127.0.0.1:${this.ports[name]}`, 60_000, { signal: exitedEarly.signal });
  }

  /** Stops a service: SIGTERM (graceful) by default, SIGKILL to simulate a crash. */
  async stopService(name: ServiceName, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    await this.processes.get(name)?.stop({ signal, graceMs: 15_000 });
    this.processes.delete(name);
  }

  /** A public-API client; close() is handled by stop(). */
  paymentClient(): PaymentServiceClient {
    const client = new PaymentServiceClient(`127.0.0.1:${this.ports.payment}`, grpc.credentials.createInsecure());
    this.clients.push(client);
    return client;
  }

  /** Metadata carrying a fresh dev token for `userId`. */
  async auth(userId: string): Promise<grpc.Metadata> {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${await signDevToken(this.keys, userId)}`);
    return metadata;
  }

  em(): EntityManager {
    if (!this.orm) throw new Error("the system is not started");
    return this.orm.em.fork();
  }

  /** Opens `userId`'s account in `currency` and deposits `amountMinor`. */
  async fund(userId: string, currency: string, amountMinor: bigint): Promise<void> {
    const em = this.em();
    const accountId = await openAccount(em, userId, currency, "USER");
    await deposit(em, accountId, amountMinor, currency, `test:${userId}:${currency}:${randomBytes(6).toString("hex")}`);
  }

  /** Every line the services wrote (the last 5,000), each prefixed with `[service] `. */
  logLines(): string[] {
    return [...this.logs];
  }

  /** The last lines the services logged, for a failing test's report. */
  recentLogs(lines = 80): string {
    return this.logs.slice(-lines).join("\n");
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.close();
    await Promise.all([...this.processes.keys()].map((name) => this.stopService(name)));
    await this.orm?.close();
    const nc = await connect({ servers: TEST_NATS_URL });
    try {
      await (await jetstreamManager(nc)).streams.delete(this.stream).catch(() => undefined);
    } finally {
      await nc.close();
    }
    await dropDatabase(this.databaseUrl);
    await rm(this.keysDir, { recursive: true, force: true });
  }
}
