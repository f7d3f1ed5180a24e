import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadOrCreateDevKeys } from "@payments/common/auth/devKeys";
import { spawnService, type ExitInfo, type ManagedProcess, type ServiceName } from "./childProcess.js";
import { startEmbeddedPostgres, type RunningPostgres } from "./embeddedPostgres.js";
import { findNatsServer, NATS_INSTALL_HINT, startNatsServer, type RunningNats } from "./natsServer.js";
import { waitForHealthy } from "./waitForHealth.js";
import { freePort } from "./freePort.js";
import type { CrashPointName } from "@payments/common/crashPoints";

/** A name `crashPoint()` understands. */
export type CrashAt = CrashPointName;

/** Options of {@link Cluster.start}. */
export interface ClusterOptions {
  /** Use this NATS instead of starting one (it can then not be restarted). */
  natsUrl?: string;
  /** Use this database instead of starting a PostgreSQL (it can then not be restarted). */
  databaseUrl?: string;
  /** Instances per service; two gateways is `{ gateway: 2 }`. Default one of each. */
  replicas?: Partial<Record<ServiceName, number>>;
  /** Extra settings per service. */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Seed alice, bob and carol with money. Default false. */
  seedDemoData?: boolean;
  /** Receives every line any component logs. */
  onLine?: (component: string, line: string) => void;
  /** How long a service gets to become healthy. */
  startTimeoutMs?: number;
}

/** Options of {@link Cluster.startInstance}. */
export interface InstanceStartOptions {
  /** The process SIGKILLs itself the first time it reaches this step. */
  crashAt?: CrashAt;
  env?: Record<string, string>;
  /** Default true: resolve only once the gRPC health check answers SERVING. */
  waitHealthy?: boolean;
}

interface Instance {
  name: string;
  service: ServiceName;
  port: number;
  process?: ManagedProcess;
}

const PG_PASSWORD = "chaos";


/**
 * The whole system with everything it runs on, for fault injection: its own NATS (JetStream
 * file store) and its own PostgreSQL in a temporary folder, on free ports, plus the services
 * as processes (any number of replicas each). Any component can be killed (SIGKILL), stopped
 * gracefully, frozen (SIGSTOP) and started again on the same port and data.
 *
 * Instances are named after their service, with `-2`, `-3`… for further replicas.
 */
export class Cluster {
  private readonly instances = new Map<string, Instance>();
  private nats?: RunningNats;
  private postgres?: RunningPostgres;
  private natsUrlValue?: string;
  private databaseUrlValue?: string;

  private constructor(
    readonly workDir: string,
    private readonly natsPort: number,
    private readonly pgPort: number,
    private readonly options: ClusterOptions,
  ) {}

  /** Starts NATS, PostgreSQL, Processing, then Payment and the gateways. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const workDir = await mkdtemp(path.join(os.tmpdir(), "payments-cluster-"));
    // As root, PostgreSQL runs as the "postgres" user, which must reach its data folder.
    await chmod(workDir, 0o755);
    const cluster = new Cluster(workDir, await freePort(), await freePort(), options);
    try {
      for (const service of ["processing", "payment", "gateway"] as const) {
        for (let i = 1; i <= (options.replicas?.[service] ?? 1); i++) {
          const name = i === 1 ? service : `${service}-${i}`;
          cluster.instances.set(name, { name, service, port: await freePort() });
        }
      }
      await loadOrCreateDevKeys(cluster.devKeysDir);
      cluster.natsUrlValue = options.natsUrl;
      cluster.databaseUrlValue = options.databaseUrl;
      await Promise.all([options.natsUrl ? undefined : cluster.startNats(), options.databaseUrl ? undefined : cluster.startPostgres()]);
      // Payment and the gateways call Processing from their first request, so it comes up first.
      await Promise.all(cluster.instanceNames("processing").map((name) => cluster.startInstance(name)));
      await Promise.all([...cluster.instanceNames("payment"), ...cluster.instanceNames("gateway")].map((name) => cluster.startInstance(name)));
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  get natsUrl(): string {
    if (!this.natsUrlValue) throw new Error("NATS is not started");
    return this.natsUrlValue;
  }

  get databaseUrl(): string {
    if (!this.databaseUrlValue) throw new Error("PostgreSQL is not started");
    return this.databaseUrlValue;
  }

  /** Instance names, optionally of one service only. */
  instanceNames(service?: ServiceName): string[] {
    return [...this.instances.values()].filter((i) => !service || i.service === service).map((i) => i.name);
  }

  /** host:port of an instance's gRPC server. */
  address(name: string): string {
    return `127.0.0.1:${this.instance(name).port}`;
  }

  isRunning(name: string): boolean {
    const process = this.instance(name).process;
    return Boolean(process && !process.exitInfo());
  }

  /** Settles when the instance's current process has exited (e.g. at a crash point). */
  async exited(name: string): Promise<ExitInfo> {
    const process = this.instance(name).process;
    if (!process) throw new Error(`${name} is not started`);
    return process.exited;
  }

  /** The environment an instance is started with. */
  envOf(name: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const instance = this.instance(name);
    // Several Processing replicas: one ipv4: target listing them all, which the clients spread
    // round-robin (as dns:///processing:50052 does in compose).
    const processingReplicas = this.instanceNames("processing").map((name) => this.address(name));
    const processingAddr = processingReplicas.length === 1 ? processingReplicas[0]! : `ipv4:${processingReplicas.join(",")}`;
    // DEV_KEYS_DIR for every service: the development keys of service-to-service tokens live there too.
    // METRICS_PORT 0: replicas of one service would otherwise all want its default metrics port.
    const common = { ...process.env, GRPC_HOST: "127.0.0.1", LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "info", NODE_ENV: "test", DEV_KEYS_DIR: this.devKeysDir, METRICS_PORT: "0" };
    const own: Record<ServiceName, Record<string, string>> = {
      processing: {
        PROCESSING_PORT: String(instance.port),
        DATABASE_URL: this.databaseUrl,
        SEED_DEMO_DATA: String(this.options.seedDemoData ?? false),
        DB_POOL_MAX: "5",
      },
      payment: {
        PAYMENT_PORT: String(instance.port),
        PROCESSING_ADDR: processingAddr,
        NATS_URL: this.natsUrl,
        PAYMENT_STREAM: "payment2",
      },
      gateway: {
        GATEWAY_PORT: String(instance.port),
        PROCESSING_ADDR: processingAddr,
        NATS_URL: this.natsUrl,
        PAYMENT_STREAM: "payment2",
        GATEWAY_CONSUMER: "gateway",
        PROVIDER_LATENCY_MS: "20",
        PROVIDER_DECLINED_NUMBERS: "+14155550199",
        // Every replica shares one provider, as they would share the real one (the
        // PostgreSQL-backed stub; an older gateway ignores the setting).
        PROVIDER_STUB_DATABASE_URL: this.databaseUrl,
      },
    };
    return { ...common, ...own[instance.service], ...(this.options.env?.[instance.service] ?? {}), ...extra };
  }

  /** Where the development signing key lives (Payment trusts it; tests sign tokens with it). */
  get devKeysDir(): string {
    return path.join(this.workDir, "dev-keys");
  }

  /** Starts an instance that is not running, on its own port. */
  async startInstance(name: string, options: InstanceStartOptions = {}): Promise<void> {
    const instance = this.instance(name);
    if (this.isRunning(name)) throw new Error(`${name} is already running`);
    const env = this.envOf(name, { ...(options.env ?? {}), ...(options.crashAt ? { CRASH_AT: options.crashAt } : {}) });
    const child = spawnService(instance.service, env, { onLine: (line) => this.options.onLine?.(name, line) });
    instance.process = child;
    if (options.waitHealthy === false) return;
    const exitedEarly = new AbortController();
    void child.exited.then((exit) => exitedEarly.abort(new Error(`${name} exited while starting (code ${exit.code}, signal ${exit.signal})`)));
    await waitForHealthy(this.address(name), this.options.startTimeoutMs ?? 60_000, { signal: exitedEarly.signal });
  }

  /** SIGKILL (a crash, the default) or SIGTERM (a graceful stop); resolves once it exited. */
  async stopInstance(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const process = this.instance(name).process;
    if (!process) return;
    // A frozen process must be thawed to act on SIGTERM.
    if (signal !== "SIGKILL") process.child.kill("SIGCONT");
    await process.stop({ signal, graceMs: 30_000 });
  }

  /** Stops (SIGKILL by default) and starts again, with new options (e.g. without CRASH_AT). */
  async restartInstance(name: string, signal: NodeJS.Signals = "SIGKILL", options: InstanceStartOptions = {}): Promise<void> {
    await this.stopInstance(name, signal);
    await this.startInstance(name, options);
  }

  /** Freezes (SIGSTOP) an instance: it holds its connections and messages but does nothing. */
  pause(name: string): void {
    this.instance(name).process?.child.kill("SIGSTOP");
  }

  /** Thaws a paused instance. */
  resume(name: string): void {
    this.instance(name).process?.child.kill("SIGCONT");
  }

  /** Starts the cluster's own nats-server on its port and store (again, after a stop). */
  async startNats(): Promise<void> {
    if (this.options.natsUrl) throw new Error("this cluster uses an outside NATS");
    const binary = findNatsServer();
    if (!binary) throw new Error(NATS_INSTALL_HINT);
    this.nats = await startNatsServer({
      binary,
      storeDir: path.join(this.workDir, "nats"),
      port: this.natsPort,
      onLine: (line) => this.options.onLine?.("nats", line),
    });
    this.natsUrlValue = this.nats.url;
  }

  /** SIGKILL (a crash: only what JetStream had synced survives) or SIGTERM (flushes first). */
  async stopNats(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const nats = this.nats;
    this.nats = undefined;
    if (!nats) return;
    if (signal === "SIGKILL") await killGroup(nats.process);
    else await nats.process.stop({ signal, graceMs: 15_000 });
  }

  /** Starts the cluster's own PostgreSQL on its port and data folder (again, after a stop). */
  async startPostgres(): Promise<void> {
    if (this.options.databaseUrl) throw new Error("this cluster uses an outside PostgreSQL");
    this.postgres = await startEmbeddedPostgres({
      dataDir: path.join(this.workDir, "postgres"),
      port: this.pgPort,
      password: PG_PASSWORD,
      database: "payments",
      onLine: (line) => this.options.onLine?.("postgres", line),
      startTimeoutMs: 60_000,
    });
    this.databaseUrlValue = this.postgres.url;
  }

  /**
   * SIGKILL of the whole server (a crash: recovery replays the WAL on the next start) or a
   * fast shutdown (SIGINT: sessions are ended, nothing committed is lost).
   */
  async stopPostgres(signal: "SIGKILL" | "SIGINT" = "SIGINT"): Promise<void> {
    const postgres = this.postgres;
    this.postgres = undefined;
    if (!postgres) return;
    if (signal === "SIGKILL") await killGroup(postgres.process);
    else await postgres.stop();
  }

  get natsRunning(): boolean {
    return Boolean(this.nats);
  }

  get postgresRunning(): boolean {
    return Boolean(this.postgres);
  }

  /** Stops every service gracefully, then NATS and PostgreSQL, and removes the work folder. */
  async stop(): Promise<void> {
    await Promise.all(this.instanceNames().map((name) => this.stopInstance(name, "SIGTERM").catch(() => undefined)));
    await this.stopNats("SIGTERM").catch(() => undefined);
    await this.stopPostgres("SIGINT").catch(() => undefined);
    await rm(this.workDir, { recursive: true, force: true });
  }

  private instance(name: string): Instance {
    const instance = this.instances.get(name);
    if (!instance) throw new Error(`no instance named ${name} (have ${this.instanceNames().join(", ")})`);
    return instance;
  }
}

/** SIGKILLs a detached server's whole process group (PostgreSQL's backends too) and waits. */
async function killGroup(process: ManagedProcess): Promise<void> {
  if (process.exitInfo()) return;
  try {
    globalThis.process.kill(-process.child.pid!, "SIGKILL");
  } catch {
    process.child.kill("SIGKILL");
  }
  await process.exited;
}
