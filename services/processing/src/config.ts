import { isProduction, readBool, readInt, readString, type Env } from "@payments/common/config";

/** Everything the processing service can be configured with; see the README for each variable. */
export interface ProcessingConfig {
  host: string;
  port: number;
  databaseUrl: string;
  dbPoolMax: number;
  seedDemoData: boolean;
  logLevel: string;
}

export function loadConfig(env: Env = process.env): ProcessingConfig {
  const production = isProduction(env);
  return {
    host: readString(env, "GRPC_HOST", "0.0.0.0"),
    port: readInt(env, "PROCESSING_PORT", 50052, 0, 65535),
    databaseUrl: readString(env, "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/payments"),
    dbPoolMax: readInt(env, "DB_POOL_MAX", 10, 1, 1000),
    // Demo users with money are a development convenience, never a production default.
    seedDemoData: readBool(env, "SEED_DEMO_DATA", !production),
    logLevel: readString(env, "LOG_LEVEL", "info"),
  };
}
