import { pino, type Logger } from "pino";

export type { Logger };

/**
 * JSON logs, one line per event, tagged with the service name. Authorization metadata
 * and tokens are redacted wherever they appear. Lines about a payment are logged through its
 * `TraceScope`'s child logger, so they carry its `traceId` and `spanId` and logs and
 * spans of one payment can be joined.
 */
export function createLogger(service: string, level = "info"): Logger {
  return pino({
    level,
    base: { service },
    redact: {
      paths: [
        "authorization",
        "*.authorization",
        "token",
        "*.token",
        "headers.authorization",
        "metadata",
        "*.metadata",
        "privateKey",
        "*.privateKey",
        "password",
        "*.password",
      ],
      censor: "[redacted]",
    },
  });
}
