import { expect } from "chai";
import { FaultSystem, topUp } from "../support/faultSystem.js";

describe("faults: the provider fails every call", function () {
  this.timeout(120_000);
  let system: FaultSystem;

  before(async () => {
    system = await FaultSystem.start({
      env: {
        gateway: {
          PROVIDER_TRANSIENT_FAILURE_RATE: "1",
          GATEWAY_PROVIDER_ATTEMPTS: "2",
          GATEWAY_STATUS_ATTEMPTS: "2",
          GATEWAY_RETRY_BASE_MS: "100",
          GATEWAY_RETRY_CAP_MS: "300",
        },
      },
    });
  });
  after(async () => system?.stop());
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(system?.recentLogs());
  });

  it("after the retry budget, a payment whose charge the provider cannot confirm either way is parked for review, its money still held", async () => {
    await system.fund("p-down", "USD", 10_000n);
    const payment = await system.create("p-down", topUp());
    // Quiescent counts a parked payment as done: nothing more happens without a person.
    await system.expectSound(60_000);
    const [stored] = await system.paymentsOf("p-down");
    expect(stored!.id).to.equal(payment.id);
    expect(stored!.status).to.equal("CREATED");
    expect(stored!.review_reason, "parked for manual review").to.be.a("string");
    expect(stored!.kinds).to.equal("HOLD");
    await system.expectCharged(payment.id, 0);
  });
});
