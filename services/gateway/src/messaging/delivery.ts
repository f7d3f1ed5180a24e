import type { JsMsg } from "@nats-io/jetstream";

/**
 * One delivery of a stream message, as the handler sees it. The first of ack, nak or term
 * wins and later ones are ignored: on shutdown the consumer may hand a message back while
 * its handler is still running, and the handler must not answer for it a second time.
 */
export interface Delivery {
  readonly data: Uint8Array;
  /** 1 on the first delivery. */
  readonly deliveryCount: number;
  readonly streamSequence: number;
  /** True once ack, nak or term was called. */
  readonly answered: boolean;
  ack(): void;
  nak(delayMs?: number): void;
  /**
   * Stops redelivery for good. No reason text is sent: servers before 2.10.4 do not parse
   * "+TERM <reason>" and would keep redelivering the message. The logs carry the reason.
   */
  term(): void;
  /** Resets the server's ack timer while a slow step runs. */
  working(): void;
  /** A header of the message (e.g. the W3C `traceparent`); undefined when absent. */
  header?(name: string): string | undefined;
}

/** Wraps a JetStream message so that it is answered at most once. */
export function deliveryOf(msg: JsMsg): Delivery {
  let answered = false;
  const once = (answer: () => void) => {
    if (answered) return;
    answered = true;
    answer();
  };
  return {
    data: msg.data,
    deliveryCount: msg.info.deliveryCount,
    streamSequence: msg.info.streamSequence,
    get answered() {
      return answered;
    },
    ack: () => once(() => msg.ack()),
    nak: (delayMs) => once(() => msg.nak(delayMs)),
    term: () => once(() => msg.term()),
    working: () => {
      if (!answered) msg.working();
    },
    header: (name) => (msg.headers?.has(name) ? msg.headers.get(name) : undefined),
  };
}
