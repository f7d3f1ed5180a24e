import type { Logger } from "pino";

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits. A second signal, or a stop that
 * hangs past `timeoutMs`, exits at once: a stuck shutdown must not keep a pod alive.
 */
export function exitOnSignals(log: Logger, stop: () => Promise<void>, timeoutMs = 20_000): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal, exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      log.error("shutdown timed out");
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop().then(
      () => {
        log.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/** Logs and exits on a failure to start, with the reason on one line. */
export function exitOnStartFailure(log: Logger) {
  return (err: unknown) => {
    log.fatal({ err }, "failed to start");
    process.exit(1);
  };
}
