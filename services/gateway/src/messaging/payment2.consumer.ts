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
import type { Context } from "@opentelemetry/api";
import type { NatsConnection } from "@payments/common/nats";
import { extractTraceContext, SpanKind, withSpan } from "@payments/common/tracing";
import { keepTablesYoung } from "@payments/common/youngTables";
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
   * back (nak) so another replica takes them. Messages received after the stop are handed
   * back at once.
   */
  stop(graceMs: number, settleMs?: number): Promise<void>;
}

/**
 * How long one pull waits on the server for messages. An idle pull ends after it and the
 * next one starts; nats.js gives up on a pull earlier when the server's heartbeats stop.
 */
const PULL_EXPIRES_MS = 5_000;

/**
 * Pulls from the durable consumer and runs `handle` on up to `concurrency` messages at once,
 * each in its CONSUMER span (`trace`, a child of the publisher's).
 * Each pull asks for no more messages than there are free slots, so every message received
 * starts at once. None waits in a client-side buffer, where nothing would keep the server
 * from redelivering it: after a stall longer than the ack wait, such redeliveries would
 * count toward the provider's retry budget though the provider was never asked. A slow
 * provider slows the pulling instead of filling memory. A failed pull (NATS away, the
 * consumer deleted or lost with the broker's store) is logged, the consumer is declared
 * again, and pulling goes on.
 */
export async function startConsumer(
  nc: NatsConnection,
  settings: GatewayConsumerSettings,
  handle: (delivery: Delivery, signal: AbortSignal, trace: Context) => Promise<void>,
  log: Logger,
): Promise<RunningConsumer> {
  const consumer = await jetstream(nc).consumers.get(settings.stream, settings.consumerName);
  const abort = new AbortController();
  // In an object, so that the map can be replaced by a young copy (see youngTables.ts).
  const tasks = { inFlight: new Map<Promise<void>, Delivery>() };
  keepTablesYoung(tasks, ["inFlight"]);
  let running = true;
  let messages: ConsumerMessages | undefined;
  // The loop waits on one promise, settled when a handler finishes or stop() is called. (A race
  // over every in-flight task would add a reaction to each of them per wait, all kept until
  // the task ends: at full concurrency, tens of reactions per message.)
  let wakeLoop: (() => void) | undefined;
  const wake = () => {
    wakeLoop?.();
    wakeLoop = undefined;
  };
  const slotFree = () => new Promise<void>((resolve) => (wakeLoop = resolve));

  const start = (delivery: Delivery) => {
    if (delivery.deliveryCount > 1) redeliveries.inc();
    const task = consumeInSpan(settings.filterSubject, delivery, (trace) => handle(delivery, abort.signal, trace)).catch((err: unknown) => {
      log.error({ err, streamSequence: delivery.streamSequence }, "message handler failed unexpectedly; retrying later");
      delivery.nak(1_000);
    });
    const tracked = task.finally(() => {
      tasks.inFlight.delete(tracked);
      wake();
    });
    tasks.inFlight.set(tracked, delivery);
  };

  const loop = (async () => {
    while (running) {
      try {
        while (running && tasks.inFlight.size >= settings.concurrency) await slotFree();
        if (!running) break;
        messages = await consumer.fetch({ max_messages: settings.concurrency - tasks.inFlight.size, expires: PULL_EXPIRES_MS });
        if (!running) {
          // stop() came while the pull was being set up, and closed the one before it.
          await messages.close();
          break;
        }
        for await (const msg of messages) {
          const delivery = deliveryOf(msg, settings.ackWaitMs);
          // Received after the stop: another replica (or this one after a restart) takes it.
          if (running) start(delivery);
          else delivery.nak();
        }
      } catch (err) {
        if (!running) break;
        log.error({ err, consumer: settings.consumerName }, "pulling failed; declaring the consumer again and going on");
        await sleep(1_000);
        await jetstreamManager(nc)
          .then((jsm) => ensureGatewayConsumer(jsm, settings))
          .catch((declareErr: unknown) => log.error({ err: declareErr }, "declaring the consumer failed; the next pull tries again"));
      }
    }
  })();

  return {
    async stop(graceMs, settleMs = 5_000) {
      running = false;
      wake();
      // Not awaited: close() resolves only once the loop has gone through the buffer.
      void messages?.close();
      const finished = Promise.all([loop, ...tasks.inFlight.keys()]).then(() => true);
      const inTime = await Promise.race([finished, sleep(graceMs).then(() => false)]);
      if (inTime) return;
      log.warn({ inFlight: tasks.inFlight.size }, "in-flight messages did not finish in time; handing them back");
      abort.abort();
      for (const delivery of tasks.inFlight.values()) delivery.nak();
      // Handlers see the abort at their next step; a call already on the wire ends by its deadline.
      await Promise.race([Promise.all([loop, ...tasks.inFlight.keys()]), sleep(settleMs)]);
    },
  };
}

/**
 * Runs the handling of one delivery in a CONSUMER span, child of the publisher's span when
 * the message headers carry a `traceparent`: the gateway's work joins the payment's trace.
 */
function consumeInSpan(subject: string, delivery: Delivery, handle: (trace: Context) => Promise<void>): Promise<void> {
  const parent = extractTraceContext(delivery, (d, key) => d.header?.(key));
  return withSpan(
    `${subject} process`,
    {
      kind: SpanKind.CONSUMER,
      parent,
      attributes: { "messaging.system": "nats", "messaging.destination.name": subject, "messaging.nats.delivery_count": delivery.deliveryCount, "messaging.nats.stream_sequence": delivery.streamSequence },
    },
    (_span, trace) => handle(trace),
  );
}
