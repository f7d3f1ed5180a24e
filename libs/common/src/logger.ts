import { pino, type Logger } from "pino";

export type { Logger };

/**
 * JSON logs, one line per event, tagged with the service name. Authorization metadata
 * and tokens are redacted wherever they appear.
 */
export function createLogger(service: string, level = "info"): Logger {
  return pino({
    level,
    base: { service },
    redact: {
      paths: ["authorization", "*.authorization", "token", "*.token", "headers.authorization"],
      censor: "[redacted]",
    },
  });
}
