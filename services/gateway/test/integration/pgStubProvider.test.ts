import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { dropDatabase, uniqueDatabaseUrl } from "@payments/testing/database";
import type { ChargeRequest } from "../../src/provider/paymentProvider.js";
import { PgStubPaymentProvider } from "../../src/provider/pgStubProvider.js";

const rules = { declinedNumbers: new Set(["+14155550199"]) };

function chargeRequest(key: string, phoneNumber = "+14155550123"): ChargeRequest {
  return {
    paymentId: key,
    idempotencyKey: key,
    amountMinor: 1_000n,
    currency: "USD",
    serviceId: "mobile-top-up",
    details: { kind: { $case: "mobileTopUp", value: { phoneNumber } } },
  };
}

describe("PostgreSQL-backed stub provider (real PostgreSQL)", function () {
  this.timeout(30_000);
  const databaseUrl = uniqueDatabaseUrl("provider_stub_test");
  let a: PgStubPaymentProvider;
  let b: PgStubPaymentProvider;

  before(async () => {
    // Two instances on one database: two gateway replicas, or one before and after a crash.
    [a, b] = await Promise.all([
      PgStubPaymentProvider.open({ databaseUrl, latencyMs: 0, rules }),
      PgStubPaymentProvider.open({ databaseUrl, latencyMs: 0, rules }),
    ]);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await dropDatabase(databaseUrl);
  });

  it("charges at most once under concurrent charges with one key, and every caller gets the first result", async () => {
    const key = randomUUID();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).charge(chargeRequest(key))));
    expect(await a.chargeCount(key)).to.equal(1);
    const references = new Set(results.map((r) => (r.outcome === "APPROVED" ? r.providerReference : "declined")));
    expect(references.size).to.equal(1);
    expect([...references][0]).to.match(/^stub-/);
    expect(await b.status(key)).to.deep.equal(results[0]);
  });

  it("refuses a charge after answering NOT_FOUND for its key, on any instance", async () => {
    const key = randomUUID();
    expect(await a.status(key)).to.deep.equal({ outcome: "NOT_FOUND" });
    const late = await b.charge(chargeRequest(key));
    expect(late.outcome).to.equal("DECLINED");
    expect(await a.chargeCount(key)).to.equal(0);
    expect(await b.status(key), "still not charged").to.deep.equal({ outcome: "NOT_FOUND" });
  });

  it("remembers declines and answers them on status", async () => {
    const key = randomUUID();
    const declined = await a.charge(chargeRequest(key, "+14155550199"));
    expect(declined.outcome).to.equal("DECLINED");
    expect(await b.status(key)).to.deep.equal(declined);
    expect(await b.chargeCount(key)).to.equal(0);
  });

  it("keeps its charges across a restart", async () => {
    const key = randomUUID();
    const first = await a.charge(chargeRequest(key));
    const restarted = await PgStubPaymentProvider.open({ databaseUrl, latencyMs: 0, rules });
    try {
      expect(await restarted.charge(chargeRequest(key))).to.deep.equal(first);
      expect(await restarted.chargeCount(key)).to.equal(1);
    } finally {
      await restarted.close();
    }
  });
});
