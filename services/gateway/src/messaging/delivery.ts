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
  /**
   * Makes sure the server's ack timer outlasts a step of up to `stepMs` that is about to
   * start: resets the timer ("working") only when less than that, plus a margin, is left.
   */
  keepAliveFor(stepMs: number): void;
  /** A header of the message (e.g. the W3C `traceparent`); undefined when absent. */
  header?(name: string): string | undefined;
}

/**
 * What the server's ack timer must have left beyond a step's own deadline. The timer starts
 * when the server sends the message, a little before `deliveryOf` sees it; a stall of the
 * event loop in between is covered too.
 */
const ACK_TIMER_MARGIN_MS = 1_000;

/**
 * Wraps a JetStream message so that it is answered at most once. `ackWaitMs` is the
 * consumer's ack wait, which `keepAliveFor` measures the time left against.
 */
export function deliveryOf(msg: JsMsg, ackWaitMs: number, now: () => number = Date.now): Delivery {
  let answered = false;
  let ackTimerStart = now();
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
    // Usually a no-op: a payment is settled well within the ack wait of its delivery, and
    // each "working" would be one more message for the server to handle.
    keepAliveFor: (stepMs) => {
      const left = ackWaitMs - (now() - ackTimerStart);
      if (answered || left >= stepMs + ACK_TIMER_MARGIN_MS) return;
      msg.working();
      ackTimerStart = now();
    },
    header: (name) => (msg.headers?.has(name) ? msg.headers.get(name) : undefined),
  };
}
