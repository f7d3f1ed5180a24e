import path from "node:path";
import { readDuplicateWindowMs, readStreamReplicas } from "@payments/common/nats";
import {
  ConfigError,
  isProduction,
  readBool,
  readInt,
  readList,
  readOptionalString,
  readString,
  type Env,
} from "@payments/common/config";
import { defaultDataDir } from "@payments/common/paths";
import { readObservabilitySettings, type ObservabilitySettings } from "@payments/common/observability";
import { readServiceKeySettings, type ServiceKeySettings } from "@payments/common/auth/serviceTokens";
import { readInternalAllowInsecure } from "@payments/common/internalTransport";

/** Signature algorithms a token may use; symmetric and unsecured ones are never accepted. */
export const SUPPORTED_JWT_ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"] as const;

/** Largest public request by default: the biggest valid one is well under 1 KiB. */
export const PUBLIC_MAX_MESSAGE_BYTES = 64 * 1024;

/** How bearer tokens are verified. Exactly one key source is used. */
export interface AuthConfig {
  issuer: string;
  audience: string;
  /** Accepted `alg` header values. */
  algorithms: string[];
  /** Remote key set of the identity provider; takes the key from the token's `kid`. */
  jwksUrl?: string;
  /** A single SPKI public key in PEM form. */
  publicKeyPem?: string;
  /** Folder of the generated development key; only used outside production when no key is configured. */
  devKeysDir: string;
}

/** Everything the payment service can be configured with, parsed once at start. */
export interface PaymentConfig {
  host: string;
  port: number;
  processingAddr: string;
  processingDeadlineMs: number;
  natsUrl: string;
  stream: string;
  /** How long the stream remembers a message id, so a re-publish of the same payment is dropped. */
  streamDuplicateWindowMs: number;
  logLevel: string;
  production: boolean;
  watchPollMs: number;
  auth: AuthConfig;
  /** GRPC_MAX_MESSAGE_BYTES: largest request accepted on the public port. */
  maxMessageBytes: number;
  /** PAYMENT_TLS_CERT_FILE / PAYMENT_TLS_KEY_FILE: serve TLS on the public port; absent = plaintext. */
  tls?: { certFile: string; keyFile: string };
  /** How this service signs its calls to Processing. */
  serviceKeys: ServiceKeySettings;
  /** METRICS_PORT, METRICS_REFRESH_MS, HEALTH_CHECK_*, OTEL_*: see README, Observability. */
  observability: ObservabilitySettings;
  /** PAYMENT_STREAM_REPLICAS: copies of the stream in a NATS cluster (1 on a single server). */
  streamReplicas: number;
}

/**
 * Reads the configuration from `env` (process.env by default). Throws {@link ConfigError}
 * for malformed values, and in production when no real token key is configured.
 */
export function loadConfig(env: Env = process.env): PaymentConfig {
  const production = isProduction(env);
  const jwksUrl = readOptionalString(env, "JWT_JWKS_URL");
  // PEM keys are often passed on one line with escaped newlines.
  const publicKeyPem = readOptionalString(env, "JWT_PUBLIC_KEY")?.replace(/\\n/g, "\n");
  if (jwksUrl && publicKeyPem) throw new ConfigError("set either JWT_JWKS_URL or JWT_PUBLIC_KEY, not both");
  if (jwksUrl) {
    let url: URL;
    try {
      url = new URL(jwksUrl);
    } catch {
      throw new ConfigError(`JWT_JWKS_URL is not a valid URL: "${jwksUrl}"`);
    }
    if (production && url.protocol !== "https:") throw new ConfigError("JWT_JWKS_URL must use https in production");
  }
  if (production && !jwksUrl && !publicKeyPem)
    throw new ConfigError("production needs JWT_JWKS_URL or JWT_PUBLIC_KEY; the development key is refused");

  const algorithms = readList(env, "JWT_ALGORITHMS", ["ES256", "RS256", "EdDSA"]);
  const supported: readonly string[] = SUPPORTED_JWT_ALGORITHMS;
  for (const alg of algorithms) {
    if (!supported.includes(alg))
      throw new ConfigError(`JWT_ALGORITHMS: "${alg}" is not allowed; use some of ${SUPPORTED_JWT_ALGORITHMS.join(", ")}`);
  }
  if (algorithms.length === 0) throw new ConfigError("JWT_ALGORITHMS must list at least one algorithm");

  const certFile = readOptionalString(env, "PAYMENT_TLS_CERT_FILE");
  const keyFile = readOptionalString(env, "PAYMENT_TLS_KEY_FILE");
  if (Boolean(certFile) !== Boolean(keyFile)) throw new ConfigError("set both PAYMENT_TLS_CERT_FILE and PAYMENT_TLS_KEY_FILE, or neither");
  // TLS usually ends at the ingress in front of us; production has to say so explicitly.
  if (production && !certFile && !readBool(env, "PAYMENT_ALLOW_INSECURE", false))
    throw new ConfigError("production needs PAYMENT_TLS_CERT_FILE and PAYMENT_TLS_KEY_FILE, or PAYMENT_ALLOW_INSECURE=true when TLS ends at the ingress");
  // The channel to Processing is plaintext; production must say the network protects it.
  readInternalAllowInsecure(env);

  return {
    host: readString(env, "GRPC_HOST", "0.0.0.0"),
    port: readInt(env, "PAYMENT_PORT", 50051, 0, 65535),
    maxMessageBytes: readInt(env, "GRPC_MAX_MESSAGE_BYTES", PUBLIC_MAX_MESSAGE_BYTES, 1024, 64 * 1024 * 1024),
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    serviceKeys: readServiceKeySettings(env, path.join(defaultDataDir, "dev-keys")),
    observability: readObservabilitySettings(env, "payment"),
    streamReplicas: readStreamReplicas(env),
    processingAddr: readString(env, "PROCESSING_ADDR", "127.0.0.1:50052"),
    processingDeadlineMs: readInt(env, "PROCESSING_DEADLINE_MS", 3000, 1, 600_000),
    natsUrl: readString(env, "NATS_URL", "nats://127.0.0.1:4222"),
    stream: readString(env, "PAYMENT_STREAM", "payment2"),
    streamDuplicateWindowMs: readDuplicateWindowMs(env),
    logLevel: readString(env, "LOG_LEVEL", "info"),
    production,
    watchPollMs: readInt(env, "WATCH_POLL_MS", 200, 10, 60_000),
    auth: {
      issuer: readString(env, "JWT_ISSUER", "payments-dev"),
      audience: readString(env, "JWT_AUDIENCE", "payments-api"),
      algorithms,
      jwksUrl,
      publicKeyPem,
      devKeysDir: readString(env, "DEV_KEYS_DIR", path.join(defaultDataDir, "dev-keys")),
    },
  };
}
