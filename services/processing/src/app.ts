import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { descriptorSetPath } from "@payments/contracts/protoFiles";
import { startGrpcServer, type RunningGrpcServer } from "@payments/common/grpc/server";
import { createServiceTokenVerifier, loadDevTrustedKeys, parseTrustedKeys } from "@payments/common/auth/serviceTokens";
import { serviceAuthInterceptor } from "@payments/common/grpc/serviceAuth";
import { startHealthChecks } from "@payments/common/healthChecks";
import { refreshPeriodically } from "@payments/common/metrics";
import { processingAccessPolicy, processingCallers } from "./accessPolicy.js";
import type { ProcessingConfig } from "./config.js";
import { openDatabase } from "./db/database.js";
import { openProviderAccounts, seedDemoUsers } from "./db/seed.js";
import { createProcessingService } from "./server.js";
import { refreshProcessingGauges } from "./metrics.js";

/** A running processing service: its database, its server, and how to stop both. */
export interface ProcessingApp {
  orm: MikroORM;
  grpc: RunningGrpcServer;
  stop(): Promise<void>;
}

/** Migrates and seeds the database, then serves ProcessingService. Used by main.ts and tests. */
export async function startProcessing(config: ProcessingConfig, log: Logger): Promise<ProcessingApp> {
  const trusted = config.serviceAuth.trustedKeysJson
    ? await parseTrustedKeys(config.serviceAuth.trustedKeysJson)
    : await loadDevTrustedKeys(config.serviceAuth.devKeysDir, processingCallers);
  if (!config.serviceAuth.trustedKeysJson)
    log.warn({ dir: config.serviceAuth.devKeysDir }, "trusting the development service keys; never do this in production");
  const orm = await openDatabase({ databaseUrl: config.databaseUrl, poolMax: config.dbPoolMax, log });
  await openProviderAccounts(orm.em.fork());
  if (config.seedDemoData) await seedDemoUsers(orm.em.fork());
  const grpc = await startGrpcServer({
    host: config.host,
    port: config.port,
    services: [createProcessingService({ orm, log })],
    descriptorSetPath,
    maxReceiveMessageBytes: config.maxMessageBytes,
    interceptors: [serviceAuthInterceptor(createServiceTokenVerifier(trusted), processingAccessPolicy, log)],
    log,
  });
  // NOT_SERVING while PostgreSQL does not answer: every call would fail.
  const healthChecks = startHealthChecks(
    [{ name: "postgresql", check: async () => void (await orm.em.getConnection().execute("select 1")) }],
    config.observability.health,
    (serving) => grpc.setServing(serving),
    log,
  );
  const gauges = refreshPeriodically(
    "processing",
    config.observability.metricsRefreshMs,
    () => refreshProcessingGauges(orm, config.metricsStaleAfterMs),
    log,
  );
  return {
    orm,
    grpc,
    async stop() {
      await Promise.all([healthChecks.stop(), gauges.stop()]);
      await grpc.stop();
      await orm.close();
    },
  };
}
