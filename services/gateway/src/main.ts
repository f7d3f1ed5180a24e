import * as grpc from "@grpc/grpc-js";
import { replaceAsyncResourceBind } from "@payments/common/asyncResourceBind";
import { createServiceTokenSigner, loadServiceSigningKey, serviceTokenInterceptor } from "@payments/common/auth/serviceTokens";
import { internalChannelOptions } from "@payments/common/internalTransport";
import { rpcClientMetricsInterceptor } from "@payments/common/grpc/observability";
import { createLogger } from "@payments/common/logger";
import { grpcDependencyCheck, natsCheck } from "@payments/common/healthChecks";
import { startMetricsServer } from "@payments/common/metrics";
import { startTracing } from "@payments/common/tracing";
import { connectNats } from "@payments/common/nats";
import { exitOnSignals, exitOnStartFailure } from "@payments/common/shutdown";
import { keepPerCallTablesYoung } from "@payments/common/youngTables";
import { ProcessingServiceClient } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { loadConfig } from "./config.js";
import { startGateway } from "./gateway.js";
import { PgStubPaymentProvider } from "./provider/pgStubProvider.js";
import { StubPaymentProvider } from "./provider/stubProvider.js";
import { withProviderTimeout } from "./provider/timeoutProvider.js";

const log = createLogger("gateway");
// Before any connection or call: calls then die young (see asyncResourceBind.ts, youngTables.ts).
replaceAsyncResourceBind();
keepPerCallTablesYoung();
try {
  const config = loadConfig();
  log.level = config.logLevel;
  const tracing = startTracing(config.observability.tracing);
  const metrics = await startMetricsServer({ host: config.host, port: config.observability.metricsPort, log });
  const nc = await connectNats(config.natsUrl, "gateway", log);
  const signer = createServiceTokenSigner(await loadServiceSigningKey("gateway", config.serviceKeys));
  await signer.token(); // a key that cannot sign stops the start, not the first Settle
  // Every call to Processing carries the gateway's service token.
  // A dns:/// address spreads the calls over every Processing replica (round_robin).
  const processing = new ProcessingServiceClient(
    config.processingAddr,
    grpc.credentials.createInsecure(),
    internalChannelOptions(config.processingAddr, { interceptors: [rpcClientMetricsInterceptor, serviceTokenInterceptor(signer)] }),
  );
  const stubOptions = {
    latencyMs: config.provider.latencyMs,
    latencyJitterMs: config.provider.latencyJitterMs,
    transientFailureRate: config.provider.transientFailureRate,
    rules: { declineAboveMinor: config.provider.declineAboveMinor, declinedNumbers: new Set(config.provider.declinedNumbers) },
  };
  // In PostgreSQL the stub's charges survive restarts and are shared by replicas. Each call
  // holds a connection for one upsert only, after its simulated latency: a few connections
  // serve hundreds of payments in flight.
  const stub = config.provider.databaseUrl
    ? await PgStubPaymentProvider.open({ ...stubOptions, databaseUrl: config.provider.databaseUrl, poolMax: Math.min(config.concurrency, 16) + 2 })
    : new StubPaymentProvider(stubOptions);
  const provider = withProviderTimeout(stub, config.providerTimeoutMs);
  // NOT_SERVING while NATS or Processing is unreachable: no payment can be carried out then.
  const healthChecks = [natsCheck(nc), grpcDependencyCheck("processing", config.processingAddr, config.observability.health.timeoutMs)];
  const gateway = await startGateway({ nc, processing, provider, config, log, healthChecks });
  exitOnSignals(
    log,
    async () => {
      await gateway.stop();
      // Drain flushes the acks and naks of the last messages before closing.
      await nc.drain();
      processing.close();
      if (stub instanceof PgStubPaymentProvider) await stub.close();
      await metrics?.close();
      await tracing.shutdown();
    },
    config.shutdownGraceMs + config.settleDeadlineMs + 5_000,
  );
} catch (err) {
  exitOnStartFailure(log)(err);
}
