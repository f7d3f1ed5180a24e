import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { prettyFactory } from "pino-pretty";
import { repoRoot } from "@payments/common/paths";

/** The three services, by folder name under services/. */
export type ServiceName = "payment" | "processing" | "gateway";

/** How a child process ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Receives each line a child writes, without its line ending. */
export type LineHandler = (line: string, stream: "stdout" | "stderr") => void;

/** A child process started by {@link spawnProcess}. */
export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** Settles once the process has exited, however it ended. */
  exited: Promise<ExitInfo>;
  /** Set once the process has exited. */
  exitInfo(): ExitInfo | undefined;
  /**
   * Sends `signal` (SIGTERM by default), waits up to `graceMs` for the exit, then SIGKILLs.
   * Safe to call more than once and after the process has exited.
   */
  stop(options?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<ExitInfo>;
}

/** Options of {@link spawnProcess}. */
export interface SpawnProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Defaults to printing each line prefixed with the name, see {@link createLinePrinter}. */
  onLine?: LineHandler;
  /**
   * Own process group: a Ctrl-C in the terminal then reaches only the parent, which stops
   * the children in order. A detached child outlives a parent that is SIGKILLed, so the
   * parent must stop it.
   */
  detached?: boolean;
  uid?: number;
  gid?: number;
}

/** Starts `command` with its output read line by line and its exit tracked. */
export function spawnProcess(name: string, command: string, args: string[], options: SpawnProcessOptions = {}): ManagedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
    uid: options.uid,
    gid: options.gid,
  });
  const onLine = options.onLine ?? createLinePrinter(name);
  createInterface({ input: child.stdout!, crlfDelay: Infinity }).on("line", (line) => onLine(line, "stdout"));
  createInterface({ input: child.stderr!, crlfDelay: Infinity }).on("line", (line) => onLine(line, "stderr"));

  let info: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    // "close" comes after the output streams are drained, so the last log lines are printed first.
    child.once("close", (code, signal) => {
      info = { code, signal };
      resolve(info);
    });
    // A spawn failure (ENOENT, EACCES) emits "error" and possibly no "close".
    child.once("error", (err) => {
      onLine(`failed to start ${command}: ${err.message}`, "stderr");
      info ??= { code: 127, signal: null };
      resolve(info);
    });
  });

  let stopping: Promise<ExitInfo> | undefined;
  const stop = ({ signal = "SIGTERM" as NodeJS.Signals, graceMs = 15_000 } = {}): Promise<ExitInfo> => {
    if (info) return Promise.resolve(info);
    stopping ??= (async () => {
      child.kill(signal);
      const timer = setTimeout(() => {
        onLine(`did not exit within ${graceMs} ms of ${signal}; sending SIGKILL`, "stderr");
        child.kill("SIGKILL");
      }, graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    })();
    return stopping;
  };

  return { name, child, exited, exitInfo: () => info, stop };
}

/** Options of {@link spawnService}. */
export interface SpawnServiceOptions {
  onLine?: LineHandler;
  detached?: boolean;
  /** Run the compiled `dist/main.js` (after `npm run build`), as production does, instead of the source. */
  built?: boolean;
}

/**
 * The heap's limits, one per generation (a NODE_OPTIONS that sets its own wins, flag by flag):
 * - Old: V8 lets it grow to about four times the live data before a full collection when its
 *   limit is large, and the default limit follows the machine's memory (4 GB here):
 *   Processing then peaked at ~240 MB RSS with ~50 MB live. Under a 256 MB limit it grows by
 *   less than half, so RSS stays near the live set.
 * - Young: 16 MB per semi-space is Node 20's default; Node 24's V8 sizes it several times
 *   larger (134 MB of new space against 34 MB in an allocation test), which took each service
 *   past 250 MB RSS there (README, Performance).
 * The Dockerfile sets the same.
 */
export const SERVICE_HEAP_FLAGS = ["--max-old-space-size=256", "--max-semi-space-size=16"];

/** `env` with each of {@link SERVICE_HEAP_FLAGS} added to NODE_OPTIONS that is not already set there. */
export function withServiceHeapLimit(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const nodeOptions = env.NODE_OPTIONS ?? "";
  // V8 takes both spellings, dashes and underscores.
  const given = (flag: string) => new RegExp(flag.split("=")[0]!.replace(/[-_]/g, "[-_]")).test(nodeOptions);
  const missing = SERVICE_HEAP_FLAGS.filter((flag) => !given(flag));
  if (missing.length === 0) return env;
  return { ...env, NODE_OPTIONS: [nodeOptions, ...missing].join(" ").trim() };
}

/**
 * V8 collects garbage with helper threads by default, which pays off when cores are idle.
 * Here the services share two cores with PostgreSQL, NATS and each other: a collection's
 * main thread then waits for helpers that wait for a core, and the pauses lengthen. In
 * paired benchmark runs, `CreatePayment` p99 at half the maximum rate was 10-14 ms with
 * the collector on the main thread alone and 27-35 ms without (README, Performance). Node
 * refuses this flag in NODE_OPTIONS, so it goes on the command line, here, in the services'
 * own start scripts and in the Dockerfile's CMD.
 */
export const SERVICE_GC_FLAG = "--single-threaded-gc";

/**
 * Starts one service with `env` as its environment, the heap limits of
 * {@link SERVICE_HEAP_FLAGS} and {@link SERVICE_GC_FLAG}: from source, as `node
 * --import tsx --conditions=source services/<name>/src/main.ts`, or built, as `node
 * services/<name>/dist/main.js`.
 */
export function spawnService(name: ServiceName, env: NodeJS.ProcessEnv, options: SpawnServiceOptions = {}): ManagedProcess {
  const args = options.built
    ? [SERVICE_GC_FLAG, serviceEntry(name, true)]
    : [SERVICE_GC_FLAG, "--import", "tsx", "--conditions=source", serviceEntry(name, false)];
  return spawnProcess(name, process.execPath, args, {
    env: withServiceHeapLimit(env),
    cwd: repoRoot,
    onLine: options.onLine,
    detached: options.detached,
  });
}

/** The file a service starts from: its source entry, or its compiled one. */
export function serviceEntry(name: ServiceName, built: boolean): string {
  return built ? path.join(repoRoot, "services", name, "dist", "main.js") : path.join(repoRoot, "services", name, "src", "main.ts");
}

const ANSI = { reset: "\x1b[0m", dim: "\x1b[2m" };
const PREFIX_COLOURS: Record<string, string> = {
  payment: "\x1b[36m",
  processing: "\x1b[35m",
  gateway: "\x1b[33m",
  nats: "\x1b[34m",
  postgres: "\x1b[32m",
  start: "\x1b[1m",
};
/** Width of the widest prefix, "[processing]", so that messages line up. */
const PREFIX_WIDTH = 12;

/** Options of {@link createLinePrinter}. */
export interface LinePrinterOptions {
  /** Defaults to whether stdout is a terminal. */
  colorize?: boolean;
  write?: (text: string) => void;
}

/**
 * Returns a line handler that prints each line behind a padded `[name]` prefix, coloured
 * on a terminal. Lines that are pino JSON are pretty-printed; anything else is printed as is.
 */
export function createLinePrinter(name: string, options: LinePrinterOptions = {}): LineHandler {
  const colorize = options.colorize ?? Boolean(process.stdout.isTTY);
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const prettify = prettyFactory({
    colorize,
    translateTime: "SYS:HH:MM:ss.l",
    // The prefix already names the service.
    ignore: "pid,hostname,service",
    singleLine: false,
  });
  const label = `[${name}]`.padEnd(PREFIX_WIDTH);
  const prefix = colorize ? `${PREFIX_COLOURS[name] ?? ANSI.dim}${label}${ANSI.reset} ` : `${label} `;
  return (line) => {
    let text = line;
    if (line.startsWith("{")) {
      try {
        const parsed: unknown = JSON.parse(line);
        if (parsed !== null && typeof parsed === "object" && "level" in parsed) text = prettify(parsed).replace(/\n$/, "");
      } catch {
        // Not JSON after all: print it unchanged.
      }
    }
    write(
      text
        .split("\n")
        .map((part) => prefix + part)
        .join("\n") + "\n",
    );
  };
}
