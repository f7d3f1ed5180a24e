import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  DiscardPolicy,
  jetstreamManager,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import type { Logger } from "pino";
import { readInt } from "./config.js";
import { keepTablesYoung } from "./youngTables.js";

export type { NatsConnection };

/**
 * Connects to NATS and keeps reconnecting forever: a broker restart must never take a
 * service down, work resumes when it is back.
 */
export async function connectNats(url: string, name: string, log: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: url.split(","),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    // An Error (with its stack) per request only to improve async traces costs CPU on every publish.
    noAsyncTraces: true,
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error")
        log.warn({ nats: s.type }, "NATS connection status changed");
    }
  })();
  // Tables with an entry per call in flight (see youngTables.ts): a JetStream publish waits for
  // its acknowledgement as a request, and each pull (fetch) is a subscription of its own.
  const protocol = (nc as { protocol?: { muxSubscriptions?: object; subscriptions?: object } }).protocol;
  if (protocol?.muxSubscriptions) keepTablesYoung(protocol.muxSubscriptions, ["reqs"]);
  if (protocol?.subscriptions) keepTablesYoung(protocol.subscriptions, ["subs"]);
  log.info({ server: nc.getServer() }, "connected to NATS");
  return nc;
}

/**
 * How long the stream remembers a message id (PAYMENT_STREAM_DUPLICATE_WINDOW_MS). Payment
 * and Gateway both declare the stream, so both must use the same value.
 */
export const DEFAULT_DUPLICATE_WINDOW_MS = 10 * 60_000;

/** How long the stream keeps a message, acked or not. */
const STREAM_MAX_AGE_MS = 24 * 3_600_000;

/** Reads the duplicate window setting shared by every service that declares the stream. */
export function readDuplicateWindowMs(env: Record<string, string | undefined>): number {
  return readInt(env, "PAYMENT_STREAM_DUPLICATE_WINDOW_MS", DEFAULT_DUPLICATE_WINDOW_MS, 1_000, 7 * 24 * 3_600_000);
}

/**
 * PAYMENT_STREAM_REPLICAS: how many servers of a NATS cluster keep the stream (and the
 * gateway's durable consumer): 1 on a single server, 3 in a three-node cluster, so an
 * acknowledged hand-over survives the loss of one node. Every service declaring the stream
 * must use the same value.
 */
export function readStreamReplicas(env: Record<string, string | undefined>): number {
  return readInt(env, "PAYMENT_STREAM_REPLICAS", 1, 1, 5);
}

/** Subject the payment hand-over is published on, inside the stream of the same prefix. */
export function paymentCreatedSubject(stream: string): string {
  return `${stream}.created`;
}

/**
 * Declares the payments stream idempotently: created if missing, updated to this
 * configuration if it exists. File storage, so an acknowledged publish survives a restart;
 * a duplicate window during which a re-publish with the same message id is dropped.
 */
export async function ensurePaymentStream(
  nc: NatsConnection,
  stream: string,
  options: { duplicateWindowMs: number; replicas?: number },
): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const config: Partial<StreamConfig> & { name: string } = {
    name: stream,
    subjects: [`${stream}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    // Acked hand-overs are not needed for long: the reconciler re-publishes anything still
    // CREATED. A day covers every retry budget and keeps the disk from filling up.
    max_age: Math.max(STREAM_MAX_AGE_MS, 2 * options.duplicateWindowMs) * 1_000_000,
    duplicate_window: options.duplicateWindowMs * 1_000_000,
    num_replicas: options.replicas ?? 1,
  };
  try {
    await jsm.streams.info(stream);
    await jsm.streams.update(stream, config);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.status !== 404) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // Another replica may have created it between our info and add: that is fine.
      await jsm.streams.info(stream).catch(() => Promise.reject(addErr));
    }
  }
  return jsm;
}
