import { setTimeout as sleep } from "node:timers/promises";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { callUnary } from "@payments/common/grpc/client";
import { paymentCreatedSubject, type NatsConnection } from "@payments/common/nats";
import { loggerInTrace } from "@payments/common/logger";
import { contextOfTraceParent, injectTraceContext, SpanKind, withSpan } from "@payments/common/tracing";
import { PaymentCreated } from "@payments/contracts/gen/payments/events/v1/payment_events";
import type { PaymentRecord, ProcessingServiceClient } from "@payments/contracts/gen/payments/processing/v1/processing_service";

/** How the reconciler runs. */
export interface ReconcilerSettings {
  stream: string;
  /** Pause between rounds; also how long a claimed payment is left alone before it may be claimed again. */
  intervalMs: number;
  /** A CREATED payment older than this is handed over again. */
  staleAfterMs: number;
  /** Payments claimed per call. */
  batch: number;
  /** Deadline of the claim call and of each publish. */
  deadlineMs: number;
}

/** A running reconciler loop. */
export interface RunningReconciler {
  /** Stops the loop after the payment being published, and waits for it. */
  stop(): Promise<void>;
  /** Runs one round now (tests); resolves with the number of payments handed over again. */
  runOnce(): Promise<number>;
}

/**
 * Repairs lost hand-overs: every interval it claims CREATED payments that should long have
 * been settled (Processing stamps them, so replicas never claim the same payment in a round)
 * and publishes their PaymentCreated again with the payment id as message id. Inside the
 * stream's duplicate window the copy is dropped (the original is still there); after it, the
 * payment is carried out again, which is idempotent at the provider and at Processing.
 */
export function startHandOverReconciler(
  nc: NatsConnection,
  processing: ProcessingServiceClient,
  settings: ReconcilerSettings,
  log: Logger,
): RunningReconciler {
  const js = jetstream(nc);
  const subject = paymentCreatedSubject(settings.stream);
  const abort = new AbortController();
  let running = true;

  const publish = async (record: PaymentRecord) => {
    const payment = record.payment!;
    const event: PaymentCreated = {
      paymentId: payment.id,
      userId: record.userId,
      serviceId: payment.serviceId,
      details: payment.details,
      amount: payment.amount,
      createTime: payment.createTime,
    };
    // A child of the Hold that created the payment (Processing keeps its traceparent), so the
    // second hand-over and the gateway's work on it stay in the payment's one trace.
    const parent = contextOfTraceParent(record.traceParent);
    const ack = await withSpan(
      `${subject} publish`,
      {
        kind: SpanKind.PRODUCER,
        attributes: { "messaging.system": "nats", "messaging.destination.name": subject, "payment.id": payment.id, "payment.republished": true },
        parent,
      },
      (_span, publishing) =>
        js.publish(subject, PaymentCreated.encode(event).finish(), {
          msgID: payment.id,
          timeout: settings.deadlineMs,
          headers: injectTraceContext(headers(), (h, key, value) => h.set(key, value), publishing),
        }),
    );
    loggerInTrace(log, parent).warn({ paymentId: payment.id, createTime: payment.createTime, duplicate: ack.duplicate }, ack.duplicate ? "stale payment: original hand-over still in the stream" : "stale payment handed over again");
  };

  const round = async (): Promise<number> => {
    let handedOver = 0;
    // A full batch means there may be more; claim again at once, until a short batch.
    for (;;) {
      const { payments } = await callUnary(
        processing.claimStalePayments.bind(processing),
        { olderThanMs: BigInt(settings.staleAfterMs), reclaimAfterMs: BigInt(settings.intervalMs), limit: settings.batch },
        { deadlineMs: settings.deadlineMs },
      );
      for (const record of payments) {
        // Stopping: the rest stay claimed for one interval, then any replica takes them.
        if (!running) return handedOver;
        if (!record.payment) continue;
        try {
          await publish(record);
          handedOver++;
        } catch (err) {
          log.error({ err, paymentId: record.payment.id }, "re-publishing a stale payment failed; it is claimed again after the interval");
        }
      }
      if (payments.length < settings.batch || !running) return handedOver;
    }
  };

  const loop = (async () => {
    if (settings.intervalMs === 0) return;
    while (running) {
      await sleep(settings.intervalMs, undefined, { signal: abort.signal }).catch(() => undefined);
      if (!running) break;
      try {
        await round();
      } catch (err) {
        log.error({ err }, "reconciler round failed; trying again after the interval");
      }
    }
  })();

  return {
    async stop() {
      running = false;
      abort.abort();
      await loop;
    },
    runOnce: round,
  };
}
