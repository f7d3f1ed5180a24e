import type { Logger } from "pino";
import { checkHealth } from "./grpc/healthCheck.js";
import type { NatsConnection } from "./nats.js";

/** One dependency a service cannot work without; `check` rejects when it is unreachable. */
export interface DependencyCheck {
  name: string;
  check(signal: AbortSignal): Promise<void>;
}

/** How the checks run (HEALTH_CHECK_INTERVAL_MS, HEALTH_CHECK_TIMEOUT_MS). */
export interface HealthCheckSettings {
  intervalMs: number;
  timeoutMs: number;
}

/** Running dependency checks. */
export interface RunningHealthChecks {
  /** Runs every check now and applies the result; resolves with whether all passed. */
  runOnce(): Promise<boolean>;
  /** Stops checking (before the server reports NOT_SERVING for its shutdown). */
  stop(): Promise<void>;
}

/**
 * Runs the named checks every `intervalMs` (each bounded by `timeoutMs`) and reports the
 * result through `setServing`: NOT_SERVING while any dependency is unreachable, SERVING
 * again once all are back. Changes are logged with the failing checks' names.
 */
export function startHealthChecks(
  checks: DependencyCheck[],
  settings: HealthCheckSettings,
  setServing: (serving: boolean) => void,
  log: Logger,
): RunningHealthChecks {
  let serving = true;
  let stopped = false;
  let current: Promise<boolean> | undefined;

  const runChecks = async (): Promise<boolean> => {
    const results = await Promise.all(
      checks.map(async ({ name, check }) => {
        try {
          await withTimeout(check, settings.timeoutMs, name);
          return undefined;
        } catch (err) {
          return { name, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const failed = results.filter((r) => r !== undefined);
    if (stopped) return failed.length === 0;
    const nowServing = failed.length === 0;
    if (nowServing !== serving) {
      if (nowServing) log.info({ checks: checks.map((c) => c.name) }, "dependencies reachable again; health is SERVING");
      else log.warn({ failed }, "a dependency is unreachable; health is NOT_SERVING");
    }
    serving = nowServing;
    setServing(nowServing);
    return nowServing;
  };
  const runOnce = () => (current ??= runChecks().finally(() => (current = undefined)));

  void runOnce();
  const timer = setInterval(() => void runOnce(), settings.intervalMs);
  timer.unref();
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}

async function withTimeout(check: DependencyCheck["check"], timeoutMs: number, name: string): Promise<void> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`${name} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([check(abort.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** NATS is reachable: the connection is open and answers a ping (flush). */
export function natsCheck(nc: NatsConnection): DependencyCheck {
  return {
    name: "nats",
    async check() {
      if (nc.isClosed()) throw new Error("the NATS connection is closed");
      await nc.flush();
    },
  };
}

/** Another gRPC service reports SERVING on its health service. */
export function grpcDependencyCheck(name: string, address: string, timeoutMs: number): DependencyCheck {
  return {
    name,
    async check() {
      const status = await checkHealth(address, { deadlineMs: timeoutMs });
      if (status !== "SERVING") throw new Error(`${name} reports ${status}`);
    },
  };
}
