import * as grpc from "@grpc/grpc-js";
import { createLogger } from "@payments/common/logger";
import { connectNats } from "@payments/common/nats";
import { exitOnSignals, exitOnStartFailure } from "@payments/common/shutdown";
import { ProcessingServiceClient } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { loadConfig } from "./config.js";
import { startGateway } from "./gateway.js";
import { StubPaymentProvider } from "./provider/stubProvider.js";

const log = createLogger("gateway");
try {
  const config = loadConfig();
  log.level = config.logLevel;
  const nc = await connectNats(config.natsUrl, "gateway", log);
  const processing = new ProcessingServiceClient(config.processingAddr, grpc.credentials.createInsecure());
  const provider = new StubPaymentProvider({
    latencyMs: config.provider.latencyMs,
    latencyJitterMs: config.provider.latencyJitterMs,
    transientFailureRate: config.provider.transientFailureRate,
    rules: { declineAboveMinor: config.provider.declineAboveMinor, declinedNumbers: new Set(config.provider.declinedNumbers) },
  });
  const gateway = await startGateway({ nc, processing, provider, config, log });
  exitOnSignals(
    log,
    async () => {
      await gateway.stop();
      // Drain flushes the acks and naks of the last messages before closing.
      await nc.drain();
      processing.close();
    },
    config.shutdownGraceMs + config.settleDeadlineMs + 5_000,
  );
} catch (err) {
  exitOnStartFailure(log)(err);
}
