import type { Context } from "@opentelemetry/api";
import { pino, type DestinationStream, type Logger } from "pino";
import { traceIdsOf } from "./tracing.js";

export type { Logger };

/** Where a logger made by {@link loggerInTrace} keeps its trace context. */
const TRACE_CONTEXT = Symbol("traceContext");

type LoggerInTrace = Logger & { [TRACE_CONTEXT]?: Context };

/**
 * JSON logs, one line per event, tagged with the service name. Authorization metadata
 * and tokens are redacted wherever they appear. A line logged through a logger of
 * {@link loggerInTrace} (or a child of one) carries its `traceId` and `spanId`, so logs and
 * spans of one payment can be joined. `destination` defaults to stdout.
 */
export function createLogger(service: string, level = "info", destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    // pino hands the mixin the logger that writes the line: the ids are worked out only for
    // lines that are written.
    mixin: (_line, _level, logger) => {
      const context = (logger as LoggerInTrace)[TRACE_CONTEXT];
      return context ? traceIdsOf(context) : {};
    },
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
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * A child of `log` (made by {@link createLogger}) whose lines carry the trace and span id of
 * `context`, and `fields`. Why not `log.child({ traceId, spanId })`: pino serialises a child's
 * bindings when it makes the child, ~1.5 µs, on every call and message even when no line
 * about it is written (the benchmark logs at "warn"); a child without bindings costs ~50 ns.
 */
export function loggerInTrace(log: Logger, context: Context, fields: Record<string, unknown> = {}): Logger {
  const child: LoggerInTrace = log.child(fields);
  child[TRACE_CONTEXT] = context;
  return child;
}
