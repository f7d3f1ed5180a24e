import pLimit, { type LimitFunction } from "p-limit";
import type { Delivery } from "./delivery.js";

/**
 * How often a delivery waiting for a slot checks that its ack timer outlasts the call it
 * waits to make. Below the margin `keepAliveFor` keeps, so a check never comes too late.
 */
const WAITING_KEEP_ALIVE_EVERY_MS = 500;

/**
 * Bounds the calls to Processing (Settle, FlagForReview) that one gateway has in flight,
 * apart from how many payments it carries at once. A slow provider needs hundreds of charges
 * in flight to keep up (in-flight payments ÷ provider latency = payments per second), but as
 * many settles at once would only queue for Processing's connection pool and the provider
 * account's row lock, ahead of the holds that the payers are waiting for.
 */
export class ProcessingSlots {
  private readonly limit: LimitFunction;

  constructor(
    concurrency: number,
    private readonly keepAliveEveryMs = WAITING_KEEP_ALIVE_EVERY_MS,
  ) {
    this.limit = pLimit(concurrency);
  }

  /**
   * Runs `call` once a slot is free. Until then, and once more as the call starts, the
   * delivery's ack timer is kept longer than `stepMs`: a payment queued behind others is
   * not redelivered to another gateway while it waits. A call whose `signal` aborted while it
   * waited (shutdown handed its message back) is not made: it rejects with the abort reason.
   */
  run<T>(delivery: Delivery, stepMs: number, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const mustWait = this.limit.activeCount + this.limit.pendingCount >= this.limit.concurrency;
    const keepAlive = mustWait ? setInterval(() => delivery.keepAliveFor(stepMs), this.keepAliveEveryMs) : undefined;
    return this.limit(() => {
      clearInterval(keepAlive);
      signal?.throwIfAborted();
      delivery.keepAliveFor(stepMs);
      return call();
    });
  }
}
