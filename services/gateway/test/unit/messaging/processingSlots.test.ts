import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import type { Delivery } from "../../../src/messaging/delivery.js";
import { ProcessingSlots } from "../../../src/messaging/processingSlots.js";

/** A delivery that counts how often it was asked to outlast a step. */
function countingDelivery(): Delivery & { keptAlive: number } {
  const delivery = {
    data: new Uint8Array(),
    deliveryCount: 1,
    streamSequence: 1,
    answered: false,
    keptAlive: 0,
    ack() {},
    nak() {},
    term() {},
    keepAliveFor() {
      delivery.keptAlive++;
    },
  };
  return delivery;
}

describe("ProcessingSlots", () => {
  it("runs no more calls at once than it has slots, and every call in the end", async () => {
    const slots = new ProcessingSlots(3);
    let running = 0;
    let most = 0;
    const call = async () => {
      running++;
      most = Math.max(most, running);
      await sleep(10);
      running--;
      return "done";
    };
    const results = await Promise.all(Array.from({ length: 12 }, () => slots.run(countingDelivery(), 1_000, call)));
    expect(most).to.equal(3);
    expect(results).to.deep.equal(Array(12).fill("done"));
  });

  it("keeps a waiting delivery alive until its call starts, and checks once more as it starts", async () => {
    const slots = new ProcessingSlots(1, 10);
    const first = countingDelivery();
    const second = countingDelivery();
    const firstCall = slots.run(first, 1_000, () => sleep(100));
    const secondCall = slots.run(second, 1_000, async () => second.keptAlive);
    await firstCall;
    const keptAliveWhenItStarted = await secondCall;
    expect(first.keptAlive, "a call with a free slot checks once, as it starts").to.equal(1);
    expect(keptAliveWhenItStarted).to.be.at.least(3);
    await sleep(50);
    expect(second.keptAlive, "no check after the call started").to.equal(keptAliveWhenItStarted);
  });

  it("does not make a call whose signal aborted while it waited for a slot", async () => {
    const slots = new ProcessingSlots(1);
    const shutdown = new AbortController();
    let made = 0;
    const first = slots.run(countingDelivery(), 1_000, () => sleep(50));
    const waiting = slots.run(countingDelivery(), 1_000, async () => made++, shutdown.signal);
    shutdown.abort(new Error("shutting down"));
    await first;
    await waiting.then(
      () => expect.fail("the call was made"),
      (err: Error) => expect(err.message).to.equal("shutting down"),
    );
    expect(made).to.equal(0);
  });

  it("gives the slot back when a call fails", async () => {
    const slots = new ProcessingSlots(1);
    const failing = slots.run(countingDelivery(), 1_000, () => Promise.reject(new Error("unavailable")));
    await failing.then(
      () => expect.fail("the call failed"),
      (err: Error) => expect(err.message).to.equal("unavailable"),
    );
    expect(await slots.run(countingDelivery(), 1_000, async () => "next")).to.equal("next");
  });
});
