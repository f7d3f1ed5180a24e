import { readDuplicateWindowMs, readStreamReplicas } from "@payments/common/nats";
import path from "node:path";
import { ConfigError, isProduction, readBool, readInt, readList, readNumber, readOptionalString, readString, type Env } from "@payments/common/config";
import { readInternalAllowInsecure } from "@payments/common/internalTransport";
import { readServiceKeySettings, type ServiceKeySettings } from "@payments/common/auth/serviceTokens";
import { DEFAULT_MAX_MESSAGE_BYTES } from "@payments/common/grpc/server";
import { defaultDataDir } from "@payments/common/paths";
import { readObservabilitySettings, type ObservabilitySettings } from "@payments/common/observability";

/** Settings of the stub payment provider (the stand-in for the external payment system). */
export interface StubProviderConfig {
  /** PROVIDER_LATENCY_MS: how long every call takes. */
  latencyMs: number;
  /** PROVIDER_LATENCY_JITTER_MS: up to this much is added at random to each call. */
  latencyJitterMs: number;
  /** PROVIDER_DECLINE_ABOVE_MINOR: amounts above this (minor units) are declined; unset = no limit. */
  declineAboveMinor: bigint | undefined;
  /**
   * PROVIDER_DECLINED_NUMBERS: comma list of phone, contract or account numbers the provider
   * declines. Default "+14155550199", so a demo can show a decline without configuration.
   */
  declinedNumbers: string[];
  /** PROVIDER_TRANSIENT_FAILURE_RATE: share (0..1) of calls that fail transiently before doing anything. */
  transientFailureRate: number;
  /**
   * PROVIDER_STUB_DATABASE_URL: PostgreSQL database the stub keeps its charges in, so they
   * survive gateway restarts and are shared by replicas (created if missing). Unset: in memory.
   */
  databaseUrl: string | undefined;
}

/** Everything the gateway can be configured with; every setting has a working default. */
export interface GatewayConfig {
  /** GRPC_HOST: interface the health endpoint binds. */
  host: string;
  /** GATEWAY_PORT: port of the gRPC health endpoint; 0 picks a free one. */
  port: number;
  /** PROCESSING_ADDR: host:port of the processing service. */
  processingAddr: string;
  /** NATS_URL: comma-separated NATS servers. */
  natsUrl: string;
  /** PAYMENT_STREAM: JetStream stream carrying the hand-over; the subject is `${stream}.created`. */
  stream: string;
  /** PAYMENT_STREAM_DUPLICATE_WINDOW_MS: window in which a re-publish with the same payment id is dropped. */
  duplicateWindowMs: number;
  /** PAYMENT_STREAM_REPLICAS: copies of the stream and of the durable consumer in a NATS cluster. */
  streamReplicas: number;
  /** GATEWAY_CONSUMER: durable consumer shared by all gateway replicas. */
  consumerName: string;
  /** GATEWAY_ACK_WAIT_MS: unacknowledged messages are redelivered after this. */
  ackWaitMs: number;
  /** PROVIDER_TIMEOUT_MS: a provider call with no answer by then counts as a transient failure (default 10 s, or half the ack wait if that is shorter). */
  providerTimeoutMs: number;
  /** GATEWAY_MAX_DELIVER: safety net against a message cycling forever. */
  maxDeliver: number;
  /**
   * GATEWAY_CONCURRENCY: payments one replica carries at the same time, provider calls
   * included: with a provider answering in L seconds, one replica settles at most this ÷ L a second.
   */
  concurrency: number;
  /** GATEWAY_SETTLE_CONCURRENCY: calls to Processing (Settle, FlagForReview) one replica has in flight. */
  settleConcurrency: number;
  /** GATEWAY_RETRY_BASE_MS: first redelivery delay after a provider failure; doubles each time. */
  retryBaseMs: number;
  /** GATEWAY_RETRY_CAP_MS: longest redelivery delay. */
  retryCapMs: number;
  /** GATEWAY_PROVIDER_ATTEMPTS: failed deliveries after which the provider is asked for the charge's status. */
  providerAttempts: number;
  /** GATEWAY_STATUS_ATTEMPTS: status lookups that leave the outcome unknown before the payment is parked for review. */
  statusAttempts: number;
  /** HOLD_TTL_MS: a payment whose hold is older than this is not charged any more, only resolved by the provider's status. */
  holdTtlMs: number;
  /** GATEWAY_RECONCILE_INTERVAL_MS: how often the reconciler looks for payments stuck in CREATED (0 turns it off). */
  reconcileIntervalMs: number;
  /** GATEWAY_STALE_AFTER_MS: a CREATED payment older than this is handed over again. */
  staleAfterMs: number;
  /** GATEWAY_RECONCILE_BATCH: payments claimed per reconciler round. */
  reconcileBatch: number;
  /** GATEWAY_SETTLE_DEADLINE_MS: deadline of one Settle call. */
  settleDeadlineMs: number;
  /** GATEWAY_SETTLE_RETRY_CAP_MS: longest pause between in-process Settle retries. */
  settleRetryCapMs: number;
  /** GATEWAY_SHUTDOWN_GRACE_MS: how long in-flight messages may finish on shutdown before being handed back. */
  shutdownGraceMs: number;
  /** LOG_LEVEL */
  logLevel: string;
  provider: StubProviderConfig;
  /** GRPC_MAX_MESSAGE_BYTES: largest request the health endpoint accepts. */
  maxMessageBytes: number;
  /** SERVICE_TOKEN_PRIVATE_KEY / DEV_KEYS_DIR: how the gateway signs its calls to Processing. */
  serviceKeys: ServiceKeySettings;
  /** METRICS_PORT, METRICS_REFRESH_MS, HEALTH_CHECK_*, OTEL_*: see README, Observability. */
  observability: ObservabilitySettings;
}

/** Parses and validates the gateway's settings once; nothing else reads the environment. */
export function loadConfig(env: Env = process.env): GatewayConfig {
  // The only provider is the stub: it charges nobody, so production must ask for it by name (a staging system).
  if (isProduction(env) && !readBool(env, "PROVIDER_ALLOW_STUB", false))
    throw new ConfigError("production refuses the stub payment provider (it charges nobody); set PROVIDER_ALLOW_STUB=true for a staging system");
  // The channel to Processing and the health port are plaintext; production must say the network protects them.
  readInternalAllowInsecure(env);
  const config: GatewayConfig = {
    host: readString(env, "GRPC_HOST", "0.0.0.0"),
    port: readInt(env, "GATEWAY_PORT", 50053, 0, 65535),
    processingAddr: readString(env, "PROCESSING_ADDR", "127.0.0.1:50052"),
    natsUrl: readString(env, "NATS_URL", "nats://127.0.0.1:4222"),
    stream: readString(env, "PAYMENT_STREAM", "payment2"),
    duplicateWindowMs: readDuplicateWindowMs(env),
    streamReplicas: readStreamReplicas(env),
    consumerName: readString(env, "GATEWAY_CONSUMER", "gateway"),
    ackWaitMs: readInt(env, "GATEWAY_ACK_WAIT_MS", 30_000, 1_000),
    providerTimeoutMs: readInt(env, "PROVIDER_TIMEOUT_MS", Math.min(10_000, Math.floor(readInt(env, "GATEWAY_ACK_WAIT_MS", 30_000, 1_000) / 2)), 100),
    maxDeliver: readInt(env, "GATEWAY_MAX_DELIVER", 100, 1),
    concurrency: readInt(env, "GATEWAY_CONCURRENCY", 256, 1, 10_000),
    settleConcurrency: readInt(env, "GATEWAY_SETTLE_CONCURRENCY", 32, 1, 10_000),
    retryBaseMs: readInt(env, "GATEWAY_RETRY_BASE_MS", 500, 1),
    retryCapMs: readInt(env, "GATEWAY_RETRY_CAP_MS", 30_000, 1),
    providerAttempts: readInt(env, "GATEWAY_PROVIDER_ATTEMPTS", 8, 1),
    statusAttempts: readInt(env, "GATEWAY_STATUS_ATTEMPTS", 3, 1),
    holdTtlMs: readInt(env, "HOLD_TTL_MS", 900_000, 1_000),
    reconcileIntervalMs: readInt(env, "GATEWAY_RECONCILE_INTERVAL_MS", 10_000, 0),
    staleAfterMs: readInt(env, "GATEWAY_STALE_AFTER_MS", 30_000, 100),
    reconcileBatch: readInt(env, "GATEWAY_RECONCILE_BATCH", 100, 1, 1_000),
    settleDeadlineMs: readInt(env, "GATEWAY_SETTLE_DEADLINE_MS", 5_000, 100),
    settleRetryCapMs: readInt(env, "GATEWAY_SETTLE_RETRY_CAP_MS", 5_000, 1),
    shutdownGraceMs: readInt(env, "GATEWAY_SHUTDOWN_GRACE_MS", 10_000, 0),
    logLevel: readString(env, "LOG_LEVEL", "info"),
    maxMessageBytes: readInt(env, "GRPC_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES, 1024, 64 * 1024 * 1024),
    serviceKeys: readServiceKeySettings(env, path.join(defaultDataDir, "dev-keys")),
    observability: readObservabilitySettings(env, "gateway"),
    provider: {
      latencyMs: readInt(env, "PROVIDER_LATENCY_MS", 50, 0),
      latencyJitterMs: readInt(env, "PROVIDER_LATENCY_JITTER_MS", 0, 0),
      declineAboveMinor: readMinorUnits(env, "PROVIDER_DECLINE_ABOVE_MINOR"),
      declinedNumbers: readList(env, "PROVIDER_DECLINED_NUMBERS", ["+14155550199"]),
      transientFailureRate: readNumber(env, "PROVIDER_TRANSIENT_FAILURE_RATE", 0, 0, 1),
      databaseUrl: readOptionalString(env, "PROVIDER_STUB_DATABASE_URL"),
    },
  };
  // The broker must not give up on a message before the gateway has decided or parked it.
  if (config.providerAttempts + config.statusAttempts > config.maxDeliver)
    throw new ConfigError(
      `GATEWAY_PROVIDER_ATTEMPTS + GATEWAY_STATUS_ATTEMPTS (${config.providerAttempts + config.statusAttempts}) must not exceed GATEWAY_MAX_DELIVER (${config.maxDeliver})`,
    );
  // A hung provider call must end before the broker redelivers its message elsewhere.
  if (config.providerTimeoutMs >= config.ackWaitMs)
    throw new ConfigError(`PROVIDER_TIMEOUT_MS (${config.providerTimeoutMs}) must be below GATEWAY_ACK_WAIT_MS (${config.ackWaitMs})`);
  return config;
}

function readMinorUnits(env: Env, name: string): bigint | undefined {
  const raw = readOptionalString(env, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a non-negative integer of minor units, got "${raw}"`);
  return BigInt(raw.trim());
}
