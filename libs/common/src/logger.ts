import { pino, type Logger } from "pino";
import { activeTraceIds } from "./tracing.js";

export type { Logger };

/**
 * JSON logs, one line per event, tagged with the service name. Authorization metadata
 * and tokens are redacted wherever they appear. A line logged inside a trace carries its
 * `traceId` and `spanId`, so logs and spans of one payment can be joined.
 */
export function createLogger(service: string, level = "info"): Logger {
  return pino({
    level,
    base: { service },
    mixin: () => activeTraceIds() ?? {},
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
