import { readInt, type Env } from "./config.js";
import type { HealthCheckSettings } from "./healthChecks.js";
import { readTracingSettings, type TracingSettings } from "./tracing.js";

/** Default /metrics ports: payment 9461, processing 9462, gateway 9463. */
export const DEFAULT_METRICS_PORTS = { payment: 9461, processing: 9462, gateway: 9463 } as const;

/** Metrics, dependency health checks and tracing settings, shared by the three services. */
export interface ObservabilitySettings {
  /** METRICS_PORT: port of the Prometheus endpoint `/metrics`; 0 turns it off. */
  metricsPort: number;
  /** METRICS_REFRESH_MS: how often gauges read from the database or the broker are refreshed. */
  metricsRefreshMs: number;
  /** HEALTH_CHECK_INTERVAL_MS / HEALTH_CHECK_TIMEOUT_MS: how often, and how long, dependencies are checked. */
  health: HealthCheckSettings;
  /** OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME. */
  tracing: TracingSettings;
}

/** Reads the observability settings of `service` from `env`. */
export function readObservabilitySettings(env: Env, service: keyof typeof DEFAULT_METRICS_PORTS): ObservabilitySettings {
  return {
    metricsPort: readInt(env, "METRICS_PORT", DEFAULT_METRICS_PORTS[service], 0, 65535),
    metricsRefreshMs: readInt(env, "METRICS_REFRESH_MS", 15_000, 100, 3_600_000),
    health: {
      intervalMs: readInt(env, "HEALTH_CHECK_INTERVAL_MS", 5_000, 100, 600_000),
      timeoutMs: readInt(env, "HEALTH_CHECK_TIMEOUT_MS", 2_000, 50, 60_000),
    },
    tracing: readTracingSettings(env, service),
  };
}
