import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import type { Payment } from "@payments/contracts/gen/payments/v1/payment";
import { FaultSystem, topUp, waitFor } from "../support/faultSystem.js";

describe("faults: NATS and PostgreSQL restarts (own broker and database)", function () {
  this.timeout(240_000);
  let system: FaultSystem;

  before(async () => {
    // A slow provider keeps messages in flight while the broker or the database goes away.
    system = await FaultSystem.start({ env: { gateway: { PROVIDER_LATENCY_MS: "400", GATEWAY_RETRY_BASE_MS: "200", GATEWAY_RETRY_CAP_MS: "1000", GATEWAY_SETTLE_RETRY_CAP_MS: "500" } } });
  });
  after(async () => system?.stop());
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(system?.recentLogs());
  });

  it("NATS killed with messages in flight and stored: after its restart every payment settles once", async () => {
    await system.fund("f-nats", "USD", 100_000n);
    // Some messages wait in the stream (no gateway), some are being handled when NATS dies.
    await system.cluster.stopInstance("gateway", "SIGKILL");
    const waiting = await Promise.all(Array.from({ length: 5 }, () => system.create("f-nats", topUp())));
    await system.cluster.startInstance("gateway");
    const inFlight = await Promise.all(Array.from({ length: 5 }, () => system.create("f-nats", topUp())));
    await system.cluster.stopNats("SIGKILL");
    await sleep(1_000);
    await system.cluster.startNats();

    await system.expectSound();
    const payments = await system.paymentsOf("f-nats");
    expect(payments).to.have.length(10);
    for (const p of [...waiting, ...inFlight]) {
      expect(await system.statusOf(p.id)).to.equal("APPROVED");
      await system.expectCharged(p.id, 1);
    }
  });

  it("PostgreSQL killed during holds: clients get UNAVAILABLE or succeed, retries with the same key converge", async () => {
    await system.fund("f-pg-hold", "USD", 100_000n);
    const requests = Array.from({ length: 12 }, () => topUp());
    const results: Array<Promise<Payment>> = [];
    for (const [i, request] of requests.entries()) {
      results.push(system.create("f-pg-hold", request, { timeoutMs: 120_000 }));
      if (i === 4) await system.cluster.stopPostgres("SIGKILL");
      await sleep(50);
    }
    await sleep(1_500);
    await system.cluster.startPostgres();
    const payments = await Promise.all(results);

    await system.expectSound();
    const stored = await system.paymentsOf("f-pg-hold");
    expect(stored.map((p) => p.idempotency_key).sort()).to.deep.equal(requests.map((r) => r.idempotencyKey).sort());
    expect(new Set(payments.map((p) => p.id)).size).to.equal(12);
    for (const p of stored) expect(p.status).to.equal("APPROVED");
  });

  it("PostgreSQL killed during settles: every payment ends settled once, none half-done", async () => {
    await system.fund("f-pg-settle", "USD", 100_000n);
    const payments = await Promise.all(Array.from({ length: 8 }, () => system.create("f-pg-settle", topUp())));
    // The provider takes 400 ms: the gateway settles while the database is gone.
    await sleep(300);
    await system.cluster.stopPostgres("SIGKILL");
    await sleep(2_000);
    await system.cluster.startPostgres();

    await system.expectSound();
    for (const p of payments) {
      expect(await system.statusOf(p.id)).to.equal("APPROVED");
      await system.expectCharged(p.id, 1);
    }
    const ledger = await system.sql<{ n: string }>(
      "select count(*) as n from ledger_entries where kind = 'CAPTURE' and payment_id = any(?::uuid[])",
      [`{${payments.map((p) => p.id).join(",")}}`],
    );
    expect(Number(ledger[0]!.n)).to.equal(8);
  });

  it("a graceful PostgreSQL restart between payments is invisible to clients that retry", async () => {
    await system.fund("f-pg-fast", "USD", 10_000n);
    await system.cluster.stopPostgres("SIGINT");
    const pending = system.create("f-pg-fast", topUp());
    await sleep(1_000);
    await system.cluster.startPostgres();
    const payment = await pending;
    await waitFor("the payment settled", async () => (await system.statusOf(payment.id)) !== "CREATED");
    await system.expectSound();
  });
});
