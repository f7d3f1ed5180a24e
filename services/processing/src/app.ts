import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { descriptorSetPath } from "@payments/contracts/protoFiles";
import { startGrpcServer, type RunningGrpcServer } from "@payments/common/grpc/server";
import { createServiceTokenVerifier, loadDevTrustedKeys, parseTrustedKeys } from "@payments/common/auth/serviceTokens";
import { serviceAuthInterceptor } from "@payments/common/grpc/serviceAuth";
import { processingAccessPolicy, processingCallers } from "./accessPolicy.js";
import type { ProcessingConfig } from "./config.js";
import { openDatabase } from "./db/database.js";
import { openProviderAccounts, seedDemoUsers } from "./db/seed.js";
import { createProcessingService } from "./server.js";

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
  return {
    orm,
    grpc,
    async stop() {
      await grpc.stop();
      await orm.close();
    },
  };
}
