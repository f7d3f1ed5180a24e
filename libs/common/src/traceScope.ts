import { trace, type Context, type Span } from "@opentelemetry/api";
import { loggerInTrace, type Logger } from "./logger.js";

/**
 * What a piece of work about a payment (one call, one message) hands along: its trace context,
 * and a logger whose lines carry that context's trace and span id (and `fields`, such as the
 * payment id). The logger is made on first use, since many calls log nothing. The base logger
 * must come from `createLogger`, whose lines pick up the ids.
 */
export class TraceScope {
  private logger?: Logger;

  constructor(
    readonly context: Context,
    private readonly baseLog: Logger,
    private readonly fields: Record<string, unknown> = {},
  ) {}

  get log(): Logger {
    return (this.logger ??= loggerInTrace(this.baseLog, this.context, this.fields));
  }

  /** The span this work runs in, to add attributes to; undefined outside a trace. */
  get span(): Span | undefined {
    return trace.getSpan(this.context);
  }
}
