import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { FaultSystem, topUp, waitFor } from "../support/faultSystem.js";

describe("faults: two gateways, one stalled past the ack wait", function () {
  this.timeout(180_000);
  let system: FaultSystem;

  before(async () => {
    system = await FaultSystem.start({
      replicas: { gateway: 2 },
      // The provider answers in 1.5 s; a message not acked in 2 s goes to the other gateway.
      env: { gateway: { GATEWAY_ACK_WAIT_MS: "2000", PROVIDER_LATENCY_MS: "1500", PROVIDER_TIMEOUT_MS: "1900", GATEWAY_RETRY_BASE_MS: "200", GATEWAY_SETTLE_RETRY_CAP_MS: "500" } },
    });
  });
  after(async () => system?.stop());
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(system?.recentLogs());
  });

  it("a gateway frozen (SIGSTOP) mid-charge and thawed after its messages were redelivered: each payment settled once, charged once", async () => {
    await system.fund("g-stall", "USD", 100_000n);
    // Only gateway-2 consumes at first, so it certainly holds the messages when it freezes.
    await system.cluster.stopInstance("gateway", "SIGTERM");
    const payments = await Promise.all(Array.from({ length: 5 }, () => system.create("g-stall", topUp())));
    await sleep(500);
    system.cluster.pause("gateway-2");
    try {
      await system.cluster.startInstance("gateway");
      await system.waitQuiescent(60_000);
      // The frozen gateway wakes up with its charges and Settles still to finish.
      system.cluster.resume("gateway-2");
      await sleep(4_000);
    } finally {
      system.cluster.resume("gateway-2");
    }
    await system.expectSound();
    for (const p of await system.paymentsOf("g-stall")) {
      expect(p.status).to.equal("APPROVED");
      expect(p.kinds).to.equal("CAPTURE,CREDIT,HOLD");
    }
    for (const p of payments) await system.expectCharged(p.id, 1);
  });

  it("many concurrent creates with the same key make one payment, held once", async () => {
    await system.fund("g-same-key", "USD", 100_000n);
    const request = topUp();
    const results = await Promise.all(Array.from({ length: 20 }, () => system.create("g-same-key", request)));
    expect(new Set(results.map((p) => p.id)).size).to.equal(1);
    await system.expectSound();
    const stored = await system.paymentsOf("g-same-key");
    expect(stored).to.have.length(1);
    expect(stored[0]!.kinds).to.equal("CAPTURE,CREDIT,HOLD");
  });

  it("the same PaymentCreated published again under other message ids, also after it settled: no double effects", async () => {
    await system.fund("g-dup", "USD", 100_000n);
    const payment = await system.create("g-dup", topUp());
    // Two copies race the original; a third arrives after the payment is terminal.
    await Promise.all([system.publishPaymentCreated(payment, "g-dup", `dup-1-${payment.id}`), system.publishPaymentCreated(payment, "g-dup", `dup-2-${payment.id}`)]);
    await system.waitQuiescent();
    await system.publishPaymentCreated(payment, "g-dup", `late-${payment.id}`);
    await waitFor("the late copy handled", async () => (system.recentLogs(300).match(new RegExp(`${payment.id}[^\\n]*"replayed":true`, "g")) ?? []).length >= 1, 30_000);
    await sleep(2_000);
    await system.expectSound();
    const [stored] = await system.paymentsOf("g-dup");
    expect(stored!.status).to.equal("APPROVED");
    expect(stored!.kinds).to.equal("CAPTURE,CREDIT,HOLD");
    await system.expectCharged(payment.id, 1);
  });
});
