import { setTimeout as sleep } from "node:timers/promises";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@payments/common/nats";
import { extractTraceContext, SpanKind, withSpan } from "@payments/common/tracing";
import type { Logger } from "pino";
import { deliveryOf, type Delivery } from "./delivery.js";
import { redeliveries } from "../metrics.js";

/** The durable consumer all gateway replicas share. */
export interface GatewayConsumerSettings {
  stream: string;
  consumerName: string;
  filterSubject: string;
  ackWaitMs: number;
  maxDeliver: number;
  /** Messages one replica handles at the same time. */
  concurrency: number;
  /** Copies of the consumer's state in a NATS cluster (the stream's replicas); default 1. */
  replicas?: number;
}

const nanos = (ms: number) => ms * 1_000_000;

/**
 * Declares the durable pull consumer idempotently: updated to this configuration if it
 * exists, created if not. Replicas starting together may race; the loser finds it exists.
 */
export async function ensureGatewayConsumer(jsm: JetStreamManager, settings: GatewayConsumerSettings): Promise<void> {
  const mutable = {
    filter_subject: settings.filterSubject,
    ack_wait: nanos(settings.ackWaitMs),
    max_deliver: settings.maxDeliver,
  } satisfies Partial<ConsumerConfig>;
  try {
    await jsm.consumers.info(settings.stream, settings.consumerName);
    await jsm.consumers.update(settings.stream, settings.consumerName, mutable);
    return;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.status !== 404) throw err;
  }
  try {
    await jsm.consumers.add(settings.stream, {
      ...mutable,
      durable_name: settings.consumerName,
      // Replicated like the stream, so deliveries and acks survive the loss of a node.
      num_replicas: settings.replicas ?? 1,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
  } catch (addErr) {
    await jsm.consumers.info(settings.stream, settings.consumerName).catch(() => Promise.reject(addErr));
  }
}

/** A running consume loop. */
export interface RunningConsumer {
  /**
   * Stops pulling, lets in-flight messages finish for up to `graceMs`, then hands the rest
   * back (nak) so another replica takes them. Buffered messages not yet started are handed
   * back at once.
   */
  stop(graceMs: number, settleMs?: number): Promise<void>;
}

/**
 * Pulls from the durable consumer and runs `handle` on up to `concurrency` messages at once.
 * The iterator is only advanced when a slot is free, and nats.js only asks the server for
 * more messages as the iterator advances, so a slow provider slows the pulling instead of
 * filling memory. A failed consume is logged and started again.
 */
export async function startConsumer(
  nc: NatsConnection,
  settings: GatewayConsumerSettings,
  handle: (delivery: Delivery, signal: AbortSignal) => Promise<void>,
  log: Logger,
): Promise<RunningConsumer> {
  const consumer = await jetstream(nc).consumers.get(settings.stream, settings.consumerName);
  const abort = new AbortController();
  const inFlight = new Map<Promise<void>, Delivery>();
  let running = true;
  let messages: ConsumerMessages | undefined;
  let wakeOnStop!: () => void;
  const stopRequested = new Promise<void>((resolve) => (wakeOnStop = resolve));

  const slotFree = () => Promise.race([...inFlight.keys(), stopRequested]);

  /**
   * nats.js keeps pulling from a consumer that was deleted (or lost with the broker's
   * store) without ever failing: declare it again and start a new consume.
   */
  const redeclareWhenGone = (current: ConsumerMessages) => {
    void (async () => {
      for await (const status of current.status()) {
        if (status.type !== "consumer_not_found" && status.type !== "consumer_deleted") continue;
        log.error({ consumer: settings.consumerName, status: status.type }, "the durable consumer is gone; declaring it again");
        await ensureGatewayConsumer(await jetstreamManager(nc), settings).catch((err: unknown) =>
          log.error({ err }, "declaring the consumer again failed; the next notice tries again"),
        );
        await current.close();
        return;
      }
    })().catch((err: unknown) => log.warn({ err }, "watching the consumer's status failed"));
  };

  const loop = (async () => {
    while (running) {
      try {
        messages = await consumer.consume({ max_messages: settings.concurrency });
        if (!running) {
          await messages.close();
          break;
        }
        redeclareWhenGone(messages);
        for await (const msg of messages) {
          const delivery = deliveryOf(msg);
          // Waiting for a slot is not the message's fault: keep the broker from redelivering it.
          const keepAlive = setInterval(() => delivery.working(), Math.max(1, Math.floor(settings.ackWaitMs / 3)));
          try {
            while (running && inFlight.size >= settings.concurrency) await slotFree();
          } finally {
            clearInterval(keepAlive);
          }
          if (!running) {
            // Pulled but not started: another replica (or this one after a restart) takes it.
            delivery.nak();
            continue;
          }
          if (delivery.deliveryCount > 1) redeliveries.inc();
          const task = consumeInSpan(settings.filterSubject, delivery, () => handle(delivery, abort.signal)).catch((err: unknown) => {
            log.error({ err, streamSequence: delivery.streamSequence }, "message handler failed unexpectedly; retrying later");
            delivery.nak(1_000);
          });
          const tracked = task.finally(() => inFlight.delete(tracked));
          inFlight.set(tracked, delivery);
        }
      } catch (err) {
        if (!running) break;
        log.error({ err }, "consuming failed; starting again");
        await sleep(1_000);
      }
    }
  })();

  return {
    async stop(graceMs, settleMs = 5_000) {
      running = false;
      wakeOnStop();
      // Not awaited: close() resolves only once the loop has gone through the buffer.
      void messages?.close();
      const finished = Promise.all([loop, ...inFlight.keys()]).then(() => true);
      const inTime = await Promise.race([finished, sleep(graceMs).then(() => false)]);
      if (inTime) return;
      log.warn({ inFlight: inFlight.size }, "in-flight messages did not finish in time; handing them back");
      abort.abort();
      for (const delivery of inFlight.values()) delivery.nak();
      // Handlers see the abort at their next step; a call already on the wire ends by its deadline.
      await Promise.race([Promise.all([loop, ...inFlight.keys()]), sleep(settleMs)]);
    },
  };
}

/**
 * Runs the handling of one delivery in a CONSUMER span, child of the publisher's span when
 * the message headers carry a `traceparent`: the gateway's work joins the payment's trace.
 */
function consumeInSpan(subject: string, delivery: Delivery, handle: () => Promise<void>): Promise<void> {
  const parent = extractTraceContext(delivery, (d, key) => d.header?.(key));
  return withSpan(
    `${subject} process`,
    {
      kind: SpanKind.CONSUMER,
      parent,
      attributes: { "messaging.system": "nats", "messaging.destination.name": subject, "messaging.nats.delivery_count": delivery.deliveryCount, "messaging.nats.stream_sequence": delivery.streamSequence },
    },
    handle,
  );
}
