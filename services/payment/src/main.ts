import { readFile } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import { replaceAsyncResourceBind } from "@payments/common/asyncResourceBind";
import { createServiceTokenSigner, loadServiceSigningKey } from "@payments/common/auth/serviceTokens";
import { createLogger } from "@payments/common/logger";
import { grpcDependencyCheck, natsCheck, startHealthChecks } from "@payments/common/healthChecks";
import { startMetricsServer } from "@payments/common/metrics";
import { startTracing } from "@payments/common/tracing";
import { connectNats, ensurePaymentStream } from "@payments/common/nats";
import { exitOnSignals, exitOnStartFailure } from "@payments/common/shutdown";
import { keepPerCallTablesYoung } from "@payments/common/youngTables";
import { loadConfig } from "./config.js";
import { createVerifierFromConfig } from "./auth/verifierFromConfig.js";
import { createProcessingClient } from "./clients/processing.client.js";
import { createJetStreamPublisher, PaymentHandOver } from "./messaging/paymentCreated.publisher.js";
import { startPaymentServer } from "./server.js";

const bootLog = createLogger("payment");
// Before any connection or call: calls then die young (see asyncResourceBind.ts, youngTables.ts).
replaceAsyncResourceBind();
keepPerCallTablesYoung();

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger("payment", config.logLevel);
  const tracing = startTracing(config.observability.tracing);
  const metrics = await startMetricsServer({ host: config.host, port: config.observability.metricsPort, log });

  const verifier = await createVerifierFromConfig(config.auth, config.production, log);
  const nc = await connectNats(config.natsUrl, "payment", log);
  await ensurePaymentStream(nc, config.stream, { duplicateWindowMs: config.streamDuplicateWindowMs, replicas: config.streamReplicas });
  const handOver = new PaymentHandOver(createJetStreamPublisher(nc, config.stream, log), log);
  const signer = createServiceTokenSigner(await loadServiceSigningKey("payment", config.serviceKeys));
  await signer.token(); // a key that cannot sign stops the start, not the first payment
  const processing = createProcessingClient(config.processingAddr, config.processingDeadlineMs, signer);
  const credentials = config.tls
    ? grpc.ServerCredentials.createSsl(null, [
        { cert_chain: await readFile(config.tls.certFile), private_key: await readFile(config.tls.keyFile) },
      ])
    : undefined;

  const server = await startPaymentServer(
    { processing, handOver, verifier, watchPollMs: config.watchPollMs, log },
    { host: config.host, port: config.port, maxMessageBytes: config.maxMessageBytes, credentials },
  );
  // NOT_SERVING while NATS or Processing is unreachable: this replica cannot take payments then.
  const { health } = config.observability;
  const healthChecks = startHealthChecks(
    [natsCheck(nc), grpcDependencyCheck("processing", config.processingAddr, health.timeoutMs)],
    health,
    (serving) => server.grpc.setServing(serving),
    log,
  );

  exitOnSignals(log, async () => {
    await healthChecks.stop();
    await server.stop();
    // Hand-overs already started get a chance to reach the stream before NATS closes.
    await handOver.settle(5000);
    processing.close();
    await nc.drain();
    await metrics?.close();
    await tracing.shutdown();
  });
}

main().catch(exitOnStartFailure(bootLog));
