import { expect } from "chai";
import { pino } from "pino";
import { NO_TRACE } from "@payments/common/tracing";
import { PaymentHandOver, type PaymentCreatedPublisher } from "../../src/messaging/paymentCreated.publisher.js";
import type { PaymentCreated } from "@payments/contracts/gen/payments/events/v1/payment_events";

const log = pino({ level: "silent" });
const event = { paymentId: "0190a2b4-0000-7000-8000-000000000001" } as PaymentCreated;

describe("PaymentHandOver (background publish with retries)", () => {
  it("retries a failed publish until it is stored", async () => {
    let calls = 0;
    const flaky: PaymentCreatedPublisher = {
      publish: async () => {
        if (++calls < 3) throw new Error("no responders");
      },
    };
    const handOver = new PaymentHandOver(flaky, log, { baseDelayMs: 1 });
    handOver.handOver(event, NO_TRACE);
    await handOver.settle(1_000);
    expect(calls).to.equal(3);
    expect(handOver.inFlight).to.equal(0);
  });

  it("gives up the retries still waiting when it is stopped, instead of keeping timers alive", async () => {
    let calls = 0;
    const down: PaymentCreatedPublisher = {
      publish: async () => {
        calls++;
        throw new Error("broker down");
      },
    };
    const handOver = new PaymentHandOver(down, log, { baseDelayMs: 60_000 });
    handOver.handOver(event, NO_TRACE);
    const started = Date.now();
    await handOver.settle(20);
    // The abandoned hand-over ends on the next turn of the event loop, not a minute later.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(handOver.inFlight).to.equal(0);
    expect(Date.now() - started).to.be.below(1_000);
    expect(calls).to.equal(1);
  });
});
