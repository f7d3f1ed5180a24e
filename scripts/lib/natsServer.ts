import { accessSync, constants } from "node:fs";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { spawnProcess, type LineHandler, type ManagedProcess } from "./childProcess.js";

/** Folders where nats-server is often installed but that a non-root PATH may lack. */
const EXTRA_BIN_DIRS = ["/usr/local/bin", "/usr/sbin", "/usr/local/sbin", "/opt/homebrew/bin"];

/** What to tell someone who has no nats-server. */
export const NATS_INSTALL_HINT = [
  "nats-server was not found on the PATH (nor in /usr/sbin or /usr/local/bin). Either:",
  "  - install it: on Debian/Ubuntu `sudo apt-get install nats-server`, on macOS `brew install nats-server`,",
  "    or download a release from https://github.com/nats-io/nats-server/releases and put it on the PATH; or",
  "  - point the services at a running NATS with JetStream: NATS_URL=nats://host:4222 npm start",
].join("\n");

/** Finds an executable nats-server on the PATH or in the usual system folders. */
export function findNatsServer(envPath = process.env.PATH ?? ""): string | undefined {
  const dirs = [...envPath.split(path.delimiter).filter(Boolean), ...EXTRA_BIN_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  binary: string;
  /** JetStream file store. */
  storeDir: string;
  port: number;
  host?: string;
  onLine?: LineHandler;
  startTimeoutMs?: number;
}

/** A running nats-server. */
export interface RunningNats {
  url: string;
  process: ManagedProcess;
  /** SIGTERM: nats-server closes clients and flushes JetStream to disk before it exits. */
  stop(): Promise<void>;
}

/** Starts nats-server with JetStream and waits until it accepts client connections. */
export async function startNatsServer(options: NatsServerOptions): Promise<RunningNats> {
  const host = options.host ?? "127.0.0.1";
  await mkdir(options.storeDir, { recursive: true });
  const server = spawnProcess(
    "nats",
    options.binary,
    ["--jetstream", "--store_dir", options.storeDir, "--addr", host, "--port", String(options.port)],
    { onLine: options.onLine, detached: true },
  );
  const stop = async () => {
    await server.stop({ signal: "SIGTERM", graceMs: 10_000 });
  };
  try {
    await waitForPort(host, options.port, server, options.startTimeoutMs ?? 15_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `nats://${host}:${options.port}`, process: server, stop };
}

/** nats-server opens its client port only after JetStream is ready, so a TCP connect is enough. */
async function waitForPort(host: string, port: number, server: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const exit = server.exitInfo();
    if (exit) throw new Error(`nats-server exited while starting (code ${exit.code}, signal ${exit.signal}); see its log above`);
    if (await canConnect(host, port)) return;
    await sleep(100);
  }
  throw new Error(`nats-server did not accept connections on ${host}:${port} within ${timeoutMs} ms`);
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1_000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}
