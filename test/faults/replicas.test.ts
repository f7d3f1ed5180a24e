import { expect } from "chai";
import type { Payment } from "@payments/contracts/gen/payments/v1/payment";
import { FaultSystem, topUp } from "../support/faultSystem.js";

/** How many log lines of `instance` (e.g. "gateway-2") carry the message `msg`. */
function countLines(logs: string, instance: string, msg: string): number {
  return logs.split("\n").filter((line) => line.startsWith(`[${instance}] `) && line.includes(`"msg":"${msg}"`)).length;
}

/** Runs `work` over `items` with at most `limit` at a time. */
async function inParallel<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}

describe("replicas: two of each service on one machine", function () {
  this.timeout(120_000);
  let system: FaultSystem;
  const users = ["r-ann", "r-ben", "r-cid", "r-dot", "r-eve", "r-fay"];

  before(async () => {
    system = await FaultSystem.start({
      replicas: { payment: 2, processing: 2, gateway: 2 },
      env: {
        // Both reconcilers look every 500 ms for payments left CREATED for 3 s.
        gateway: { PROVIDER_LATENCY_MS: "50", GATEWAY_RECONCILE_INTERVAL_MS: "500", GATEWAY_STALE_AFTER_MS: "3000" },
      },
    });
    for (const user of users) await system.fund(user, "USD", 1_000_000n);
  });
  after(async () => system?.stop());
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(system?.recentLogs());
  });

  it("300 payments from six users through both payment replicas: each terminal, settled once, charged at most once, and every replica did work", async () => {
    // Every tenth goes to a number the provider declines, so both outcomes are exercised.
    const requests = Array.from({ length: 300 }, (_, i) => ({
      user: users[i % users.length]!,
      instance: i % 2 === 0 ? "payment" : "payment-2",
      request: topUp(i % 10 === 0 ? { details: { kind: { $case: "mobileTopUp", value: { phoneNumber: "+14155550199" } } } } : {}),
    }));
    const payments = await inParallel(requests, 24, ({ user, request, instance }) => system.create(user, request, { instance }));
    expect(new Set(payments.map((p) => p.id)).size).to.equal(300);

    await system.expectSound(60_000);
    const statuses = await system.sql<{ id: string; status: string }>("select id, status from payments where user_id like 'r-%'");
    const statusOf = new Map(statuses.map((row) => [row.id, row.status]));
    payments.forEach((payment, i) => expect(statusOf.get(payment.id), `payment ${i}`).to.equal(i % 10 === 0 ? "REJECTED" : "APPROVED"));
    const charges = (await system.providerCharges())!;
    expect(charges, "the stub keeps its charges in PostgreSQL").to.not.equal(undefined);
    payments.forEach((payment, i) => expect(charges.get(payment.id) ?? 0, `charges of payment ${i}`).to.equal(i % 10 === 0 ? 0 : 1));

    // Load was spread: both Processing replicas held (round_robin over the ipv4: target) and both gateways settled.
    const logs = system.recentLogs(5_000);
    for (const instance of ["processing", "processing-2"]) expect(countLines(logs, instance, "hold"), `holds by ${instance}`).to.be.greaterThan(0);
    for (const instance of ["gateway", "gateway-2"]) expect(countLines(logs, instance, "payment settled"), `settled by ${instance}`).to.be.greaterThan(0);
    for (const instance of ["payment", "payment-2"]) expect(countLines(logs, instance, "payment held"), `accepted by ${instance}`).to.equal(150);
  });

  it("hand-overs lost by a crashing payment replica are recovered by the two reconcilers: each payment handed over once more, settled once, charged once", async () => {
    const lost: Payment[] = [];
    // payment-2 dies after answering, before publishing, four times in a row.
    for (let i = 0; i < 4; i++) {
      await system.cluster.restartInstance("payment-2", "SIGKILL", { crashAt: "payment.before-publish" });
      lost.push(await system.createOnce(users[i]!, topUp(), "payment-2"));
      await system.cluster.exited("payment-2");
    }
    await system.cluster.startInstance("payment-2");

    await system.expectSound(60_000);
    for (const payment of lost) {
      expect(await system.statusOf(payment.id)).to.equal("APPROVED");
      await system.expectCharged(payment.id, 1);
    }
    // Both reconcilers ran over the same payments; the claims (FOR UPDATE SKIP LOCKED) and the
    // stream's duplicate window let exactly one new hand-over of each into the stream.
    const logs = system.recentLogs(5_000).split("\n");
    for (const payment of lost) {
      const handedOver = logs.filter((line) => line.includes(payment.id) && line.includes('"msg":"stale payment handed over again"'));
      expect(handedOver, `new hand-overs of ${payment.id}`).to.have.length(1);
    }
  });
});
