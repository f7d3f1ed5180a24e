import { setTimeout as sleep } from "node:timers/promises";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { Context } from "@opentelemetry/api";
import { injectTraceContext, SpanKind, withSpan } from "@payments/common/tracing";
import type { NatsConnection } from "@payments/common/nats";
import { paymentCreatedSubject } from "@payments/common/nats";
import { loggerInTrace, type Logger } from "@payments/common/logger";
import { keepTablesYoung } from "@payments/common/youngTables";
import { PaymentCreated } from "@payments/contracts/gen/payments/events/v1/payment_events";

/**
 * Hands a held payment over to the rest of the saga. Kept this small so that an outbox
 * (a later issue) can take the place of the direct JetStream publish.
 */
export interface PaymentCreatedPublisher {
  /** Resolves once the stream has stored the event (or recognised it as a duplicate); the publish joins `trace`. */
  publish(event: PaymentCreated, trace: Context): Promise<void>;
}

/**
 * Publishes PaymentCreated, proto-encoded, to `<stream>.created` with the payment id as the
 * message id: the stream drops a re-publish of the same payment inside its duplicate window.
 * The message headers carry the trace context (W3C traceparent), so the gateway's work joins
 * the payment's trace.
 */
export function createJetStreamPublisher(
  nc: NatsConnection,
  stream: string,
  log: Logger,
  options: { ackTimeoutMs?: number } = {},
): PaymentCreatedPublisher {
  const js = jetstream(nc);
  const subject = paymentCreatedSubject(stream);
  return {
    async publish(event, trace) {
      const attributes = { "messaging.system": "nats", "messaging.destination.name": subject, "payment.id": event.paymentId };
      await withSpan(`${subject} publish`, { kind: SpanKind.PRODUCER, attributes, parent: trace }, async (span, publishing) => {
        const ack = await js.publish(subject, PaymentCreated.encode(event).finish(), {
          msgID: event.paymentId,
          timeout: options.ackTimeoutMs ?? 5000,
          headers: injectTraceContext(headers(), (h, key, value) => h.set(key, value), publishing),
        });
        span.setAttribute("payment.duplicate", ack.duplicate);
        loggerInTrace(log, publishing).debug({ paymentId: event.paymentId, seq: ack.seq, duplicate: ack.duplicate }, "PaymentCreated stored");
      });
    },
  };
}

export interface HandOverOptions {
  /** Tries in all, the first included. */
  attempts?: number;
  /** Delay before the first retry; doubles each time, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Publishes in the background with retries, so the client never waits for the broker.
 * A hand-over that still fails (or is cut short by shutdown) is logged; the payment stays
 * CREATED until a client retry or the gateway's reconciler hands it over again.
 */
export class PaymentHandOver {
  /** Not readonly: replaced by a young copy after each collection (see youngTables.ts). */
  private pending = new Set<Promise<void>>();
  /** Ends the waits between retries at shutdown, so no timer outlives the service. */
  private readonly stopping = new AbortController();
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly publisher: PaymentCreatedPublisher,
    private readonly log: Logger,
    options: HandOverOptions = {},
  ) {
    this.attempts = options.attempts ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 4000;
    keepTablesYoung(this, ["pending"]);
  }

  /** Starts the hand-over, continuing the payment's `trace`, and returns at once. */
  handOver(event: PaymentCreated, trace: Context): void {
    const task = this.run(event, trace).finally(() => this.pending.delete(task));
    this.pending.add(task);
  }

  /** Number of hand-overs still in progress. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Waits for the hand-overs in progress, up to `timeoutMs`, then gives up the retries still
   * waiting for their next attempt (used before closing NATS).
   */
  async settle(timeoutMs: number): Promise<void> {
    if (this.pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([Promise.allSettled([...this.pending]), timeout]);
      clearTimeout(timer);
    }
    this.stopping.abort();
  }

  private async run(event: PaymentCreated, trace: Context): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.publisher.publish(event, trace);
        return;
      } catch (err) {
        const log = loggerInTrace(this.log, trace);
        if (attempt >= this.attempts || this.stopping.signal.aborted) {
          log.error({ err, paymentId: event.paymentId, attempts: attempt }, "PaymentCreated hand-over failed; payment stays CREATED");
          return;
        }
        const delay = Math.min(this.baseDelayMs * 2 ** (attempt - 1), this.maxDelayMs);
        log.warn({ err, paymentId: event.paymentId, attempt, retryInMs: delay }, "PaymentCreated publish failed, retrying");
        const waited = await sleep(delay, true, { signal: this.stopping.signal }).catch(() => false);
        if (!waited) {
          log.warn({ paymentId: event.paymentId, attempts: attempt }, "shutting down: PaymentCreated hand-over left to the reconciler");
          return;
        }
      }
    }
  }
}
