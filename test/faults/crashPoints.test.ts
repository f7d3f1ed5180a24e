import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import type { ServiceError } from "@grpc/grpc-js";
import type { CrashAt } from "../../scripts/lib/cluster.js";
import { FaultSystem, topUp, waitFor } from "../support/faultSystem.js";

/**
 * A service SIGKILLs itself at a named step (CRASH_AT, libs/common/src/crashPoints.ts), is
 * started again normally, and the saga still ends with every payment terminal, settled once.
 */
describe("faults: crashes at the saga's critical steps", function () {
  this.timeout(180_000);
  let system: FaultSystem;

  before(async () => {
    system = await FaultSystem.start({
      env: {
        gateway: {
          // A message whose gateway died is redelivered after the ack wait: keep it short.
          GATEWAY_ACK_WAIT_MS: "3000",
          GATEWAY_RECONCILE_INTERVAL_MS: "500",
          GATEWAY_STALE_AFTER_MS: "2000",
          GATEWAY_RETRY_BASE_MS: "200",
          GATEWAY_SETTLE_RETRY_CAP_MS: "500",
        },
      },
    });
  });
  after(async () => system?.stop());
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(system?.recentLogs());
  });

  /** Starts `instance` armed at `crashAt`, runs `trigger`, waits for the crash, starts it normally. */
  async function crashOnce(instance: string, crashAt: CrashAt, trigger: () => Promise<unknown>): Promise<unknown> {
    await system.cluster.restartInstance(instance, "SIGTERM", { crashAt });
    const outcome = trigger().then((value) => ({ value }), (error: unknown) => ({ error }));
    const exit = await Promise.race([
      system.cluster.exited(instance),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${instance} never reached ${crashAt}`)), 30_000).unref()),
    ]);
    expect(exit.signal, `${instance} should have died at ${crashAt}`).to.equal("SIGKILL");
    await system.cluster.startInstance(instance);
    return outcome;
  }

  it("Payment killed after Hold committed, before the reply: the client's retry gets the same payment, held once", async () => {
    await system.fund("c-after-hold", "USD", 10_000n);
    const request = topUp();
    const first = (await crashOnce("payment", "payment.after-hold", () => system.createOnce("c-after-hold", request))) as { error?: ServiceError };
    expect(first.error?.code).to.equal(status.UNAVAILABLE);
    const payment = await system.create("c-after-hold", request);
    await system.expectSound();
    const stored = await system.paymentsOf("c-after-hold");
    expect(stored).to.have.length(1);
    expect(stored[0]!.id).to.equal(payment.id);
    expect(stored[0]!.status).to.equal("APPROVED");
    expect(stored[0]!.kinds).to.equal("CAPTURE,CREDIT,HOLD");
    await system.expectCharged(payment.id, 1);
  });

  it("Processing killed after the Hold commit, before the reply: the retry replays the hold, never holds twice", async () => {
    await system.fund("c-proc-hold", "USD", 10_000n);
    const request = topUp();
    await crashOnce("processing", "processing.after-hold-commit", () => system.createOnce("c-proc-hold", request));
    const payment = await system.create("c-proc-hold", request);
    await system.expectSound();
    const stored = await system.paymentsOf("c-proc-hold");
    expect(stored.map((p) => p.id)).to.deep.equal([payment.id]);
    expect(stored[0]!.status).to.equal("APPROVED");
  });

  it("Payment killed after the reply, before the publish: the reconciler hands the payment over, it ends terminal", async () => {
    await system.fund("c-before-publish", "USD", 10_000n);
    let accepted: string | undefined;
    await crashOnce("payment", "payment.before-publish", async () => {
      accepted = (await system.createOnce("c-before-publish", topUp())).id;
    });
    expect(accepted, "the client was answered before the crash").to.be.a("string");
    await system.expectSound();
    expect(await system.statusOf(accepted!)).to.equal("APPROVED");
    await system.expectCharged(accepted!, 1);
  });

  it("gateway killed after the provider answered, before Settle: after its restart the payment is settled once, charged once", async () => {
    await system.fund("c-after-charge", "USD", 10_000n);
    let payment: string | undefined;
    await crashOnce("gateway", "gateway.after-charge", async () => {
      payment = (await system.create("c-after-charge", topUp())).id;
    });
    await system.expectSound();
    expect(await system.statusOf(payment!)).to.equal("APPROVED");
    await system.expectCharged(payment!, 1);
  });

  it("gateway killed after Settle committed, before the ack: the redelivery replays Settle, no double capture", async () => {
    await system.fund("c-after-settle", "USD", 10_000n);
    let payment: string | undefined;
    await crashOnce("gateway", "gateway.after-settle", async () => {
      payment = (await system.create("c-after-settle", topUp())).id;
    });
    await waitFor("a redelivery settled again (replayed)", async () => system.recentLogs(400).includes('"replayed":true'), 60_000);
    await system.expectSound();
    const [stored] = await system.paymentsOf("c-after-settle");
    expect(stored!.kinds).to.equal("CAPTURE,CREDIT,HOLD");
    await system.expectCharged(payment!, 1);
  });

  it("Processing killed after the Settle commit, before the reply: the gateway's retry replays it, settled once", async () => {
    await system.fund("c-proc-settle", "USD", 10_000n);
    let payment: string | undefined;
    await crashOnce("processing", "processing.after-settle-commit", async () => {
      payment = (await system.create("c-proc-settle", topUp())).id;
    });
    await system.expectSound();
    const [stored] = await system.paymentsOf("c-proc-settle");
    expect(stored!.status).to.equal("APPROVED");
    expect(stored!.kinds).to.equal("CAPTURE,CREDIT,HOLD");
    await system.expectCharged(payment!, 1);
  });
});
