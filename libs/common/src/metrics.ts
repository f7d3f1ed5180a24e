import { createServer, type Server } from "node:http";
import { collectDefaultMetrics, register } from "prom-client";
import type { Logger } from "pino";

/** The registry every metric of the process is registered in (prom-client's default). */
export const metricsRegistry = register;

let defaultMetricsStarted = false;

/** A listening /metrics endpoint. */
export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves the Prometheus text format on `GET /metrics` (node:http, nothing else), with the
 * default process metrics (CPU, memory, event loop lag, GC). Port 0 means no endpoint
 * (METRICS_PORT=0 turns metrics off); resolves with undefined then.
 */
export async function startMetricsServer(options: { host: string; port: number; log: Logger }): Promise<MetricsServer | undefined> {
  if (options.port === 0) return undefined;
  if (!defaultMetricsStarted) {
    collectDefaultMetrics();
    defaultMetricsStarted = true;
  }
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found; metrics are at /metrics\n");
      return;
    }
    metricsRegistry.metrics().then(
      (text) => res.writeHead(200, { "content-type": metricsRegistry.contentType }).end(text),
      (err: unknown) => {
        options.log.error({ err }, "collecting metrics failed");
        res.writeHead(500, { "content-type": "text/plain" }).end("collecting metrics failed\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  options.log.info({ port }, "metrics endpoint listening on /metrics");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Runs `refresh` now and then every `intervalMs` (gauges read from a database or a broker),
 * never two at once; a failure is logged and the gauges keep their last values.
 */
export function refreshPeriodically(name: string, intervalMs: number, refresh: () => Promise<void>, log: Logger): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  let stopped = false;
  const tick = () => {
    // A slow refresh skips the ticks that come while it runs rather than queueing them.
    if (stopped || busy) return;
    busy = true;
    running = refresh()
      .catch((err: unknown) => log.warn({ err, gauges: name }, "refreshing metrics failed; keeping the last values"))
      .finally(() => (busy = false));
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
