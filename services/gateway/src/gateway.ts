import { startGrpcServer } from "@payments/common/grpc/server";
import { startHealthChecks, type DependencyCheck } from "@payments/common/healthChecks";
import { refreshPeriodically } from "@payments/common/metrics";
import { ensurePaymentStream, paymentCreatedSubject, type NatsConnection } from "@payments/common/nats";
import type { ProcessingServiceClient } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import type { Logger } from "pino";
import type { GatewayConfig } from "./config.js";
import { handlePaymentCreated } from "./handlers/paymentCreated.handler.js";
import { startHandOverReconciler, type RunningReconciler } from "./messaging/handOverReconciler.js";
import { ensureGatewayConsumer, startConsumer } from "./messaging/payment2.consumer.js";
import { ProcessingSlots } from "./messaging/processingSlots.js";
import type { PaymentProvider } from "./provider/paymentProvider.js";
import { consumerLag } from "./metrics.js";

/** Everything the gateway runs on; the caller owns (and closes) the connections. */
export interface GatewayDeps {
  nc: NatsConnection;
  processing: ProcessingServiceClient;
  provider: PaymentProvider;
  config: GatewayConfig;
  log: Logger;
  /** Dependencies (NATS, Processing) whose loss turns the health endpoint NOT_SERVING; none by default. */
  healthChecks?: DependencyCheck[];
}

/** A started gateway. */
export interface RunningGateway {
  /** Port of the gRPC health endpoint. */
  port: number;
  /** The loop that hands stale CREATED payments over again. */
  reconciler: RunningReconciler;
  /**
   * Reports NOT_SERVING, stops the reconciler, stops pulling, lets in-flight payments finish for the configured
   * grace period (then hands them back), and closes the health endpoint. The NATS
   * connection and the Processing client stay open for the caller to close.
   */
  stop(): Promise<void>;
}

/**
 * Declares the stream and the durable consumer, serves gRPC health, and starts carrying out
 * the pivot step for every PaymentCreated message.
 */
export async function startGateway(deps: GatewayDeps): Promise<RunningGateway> {
  const { nc, processing, provider, config, log } = deps;
  const jsm = await ensurePaymentStream(nc, config.stream, { duplicateWindowMs: config.duplicateWindowMs, replicas: config.streamReplicas });
  const consumerSettings = {
    stream: config.stream,
    consumerName: config.consumerName,
    filterSubject: paymentCreatedSubject(config.stream),
    ackWaitMs: config.ackWaitMs,
    maxDeliver: config.maxDeliver,
    concurrency: config.concurrency,
    replicas: config.streamReplicas,
  };
  await ensureGatewayConsumer(jsm, consumerSettings);

  const processingSlots = new ProcessingSlots(config.settleConcurrency);
  const grpc = await startGrpcServer({ host: config.host, port: config.port, services: [], maxReceiveMessageBytes: config.maxMessageBytes, log });
  const consumer = await startConsumer(
    nc,
    consumerSettings,
    (delivery, signal, trace) => handlePaymentCreated(delivery, { processing, provider, processingSlots, settings: config, log, signal }, trace),
    log,
  );
  const reconciler = startHandOverReconciler(
    nc,
    processing,
    {
      stream: config.stream,
      intervalMs: config.reconcileIntervalMs,
      staleAfterMs: config.staleAfterMs,
      batch: config.reconcileBatch,
      deadlineMs: config.settleDeadlineMs,
    },
    log.child({ component: "reconciler" }),
  );
  const healthChecks = startHealthChecks(deps.healthChecks ?? [], config.observability.health, (serving) => grpc.setServing(serving), log);
  const lagLabels = { stream: config.stream, consumer: config.consumerName };
  const lag = refreshPeriodically(
    "gateway",
    config.observability.metricsRefreshMs,
    async () => {
      const info = await jsm.consumers.info(config.stream, config.consumerName);
      consumerLag.set(lagLabels, info.num_pending + info.num_ack_pending);
    },
    log,
  );
  log.info(
    { stream: config.stream, consumer: config.consumerName, concurrency: config.concurrency, settleConcurrency: config.settleConcurrency, reconcileIntervalMs: config.reconcileIntervalMs, staleAfterMs: config.staleAfterMs },
    "gateway consuming",
  );

  return {
    port: grpc.port,
    reconciler,
    async stop() {
      // Probes see NOT_SERVING while the in-flight payments finish.
      await Promise.all([healthChecks.stop(), lag.stop()]);
      grpc.health.setStatus("", "NOT_SERVING");
      await Promise.all([reconciler.stop(), consumer.stop(config.shutdownGraceMs, config.settleDeadlineMs)]);
      await grpc.stop(1_000);
    },
  };
}
