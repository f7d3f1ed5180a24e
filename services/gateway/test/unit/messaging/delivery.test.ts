import { expect } from "chai";
import type { JsMsg } from "@nats-io/jetstream";
import { deliveryOf } from "../../../src/messaging/delivery.js";

/** The parts of a JetStream message a delivery uses, recording what was sent back. */
function fakeMessage() {
  const sent: string[] = [];
  const msg = {
    data: new Uint8Array(),
    info: { deliveryCount: 1, streamSequence: 7 },
    headers: undefined,
    ack: () => sent.push("ack"),
    nak: () => sent.push("nak"),
    term: () => sent.push("term"),
    working: () => sent.push("working"),
  };
  return { msg: msg as unknown as JsMsg, sent };
}

describe("deliveryOf", () => {
  const ackWaitMs = 30_000;

  it("answers once: later answers are ignored", () => {
    const { msg, sent } = fakeMessage();
    const delivery = deliveryOf(msg, ackWaitMs);
    delivery.ack();
    delivery.nak();
    delivery.term();
    expect(sent).to.deep.equal(["ack"]);
    expect(delivery.answered).to.equal(true);
  });

  it("resets the ack timer only when a step could outlast what is left of it", () => {
    const { msg, sent } = fakeMessage();
    let now = 1_000_000;
    const delivery = deliveryOf(msg, ackWaitMs, () => now);

    now += 50;
    delivery.keepAliveFor(5_000);
    expect(sent, "a fresh delivery has the whole ack wait").to.deep.equal([]);

    now += 23_000; // 6.95 s left: a 5 s step plus the 1 s margin still fits
    delivery.keepAliveFor(5_000);
    expect(sent).to.deep.equal([]);

    now += 1_000; // 5.95 s left: it does not
    delivery.keepAliveFor(5_000);
    expect(sent).to.deep.equal(["working"]);

    now += 1_000; // the timer started again at the reset
    delivery.keepAliveFor(5_000);
    expect(sent).to.deep.equal(["working"]);
  });

  it("does not reset the timer of a message already answered", () => {
    const { msg, sent } = fakeMessage();
    let now = 0;
    const delivery = deliveryOf(msg, ackWaitMs, () => now);
    delivery.nak();
    now += ackWaitMs;
    delivery.keepAliveFor(5_000);
    expect(sent).to.deep.equal(["nak"]);
  });
});
