import path from "node:path";
import { ConfigError, isProduction, readBool, readInt, readOptionalString, readString, type Env } from "@payments/common/config";
import { DEFAULT_MAX_MESSAGE_BYTES } from "@payments/common/grpc/server";
import { defaultDataDir } from "@payments/common/paths";
import { readObservabilitySettings, type ObservabilitySettings } from "@payments/common/observability";
import { readInternalAllowInsecure } from "@payments/common/internalTransport";

/** Everything the processing service can be configured with; see the README for each variable. */
export interface ProcessingConfig {
  host: string;
  port: number;
  databaseUrl: string;
  dbPoolMax: number;
  seedDemoData: boolean;
  logLevel: string;
  /** GRPC_MAX_MESSAGE_BYTES: largest request accepted. */
  maxMessageBytes: number;
  /** METRICS_PORT, METRICS_REFRESH_MS, HEALTH_CHECK_*, OTEL_*: see README, Observability. */
  observability: ObservabilitySettings;
  /** METRICS_STALE_AFTER_MS: a CREATED payment older than this counts in the payments_stale gauge. */
  metricsStaleAfterMs: number;
  /** Whose service tokens are trusted (see README, Security). */
  serviceAuth: {
    /** PROCESSING_TRUSTED_KEYS: JSON object of service name to PEM public key(s); required in production. */
    trustedKeysJson?: string;
    /** DEV_KEYS_DIR: outside production without trusted keys, the callers' development keys live here. */
    devKeysDir: string;
  };
}

export function loadConfig(env: Env = process.env): ProcessingConfig {
  const production = isProduction(env);
  const trustedKeysJson = readOptionalString(env, "PROCESSING_TRUSTED_KEYS");
  if (production && !trustedKeysJson)
    throw new ConfigError("production needs PROCESSING_TRUSTED_KEYS (JSON: service name -> PEM public key); development keys are refused");
  // Demo users with money are a development convenience, never in production.
  const seedDemoData = readBool(env, "SEED_DEMO_DATA", !production);
  if (production && seedDemoData) throw new ConfigError("SEED_DEMO_DATA is refused in production: it creates demo users with money");
  // The internal port is plaintext; production must say the network protects it.
  readInternalAllowInsecure(env);
  return {
    host: readString(env, "GRPC_HOST", "0.0.0.0"),
    port: readInt(env, "PROCESSING_PORT", 50052, 0, 65535),
    databaseUrl: readString(env, "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/payments"),
    dbPoolMax: readInt(env, "DB_POOL_MAX", 10, 1, 1000),
    seedDemoData,
    logLevel: readString(env, "LOG_LEVEL", "info"),
    maxMessageBytes: readInt(env, "GRPC_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES, 1024, 64 * 1024 * 1024),
    observability: readObservabilitySettings(env, "processing"),
    metricsStaleAfterMs: readInt(env, "METRICS_STALE_AFTER_MS", 60_000, 1_000),
    serviceAuth: { trustedKeysJson, devKeysDir: readString(env, "DEV_KEYS_DIR", path.join(defaultDataDir, "dev-keys")) },
  };
}
