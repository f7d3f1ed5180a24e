import { expect } from "chai";
import { ProviderUnavailableError, type ChargeRequest } from "../../../src/provider/paymentProvider.js";
import { StubPaymentProvider } from "../../../src/provider/stubProvider.js";

const request = (key: string, amountMinor = 1_000n): ChargeRequest => ({
  paymentId: key,
  idempotencyKey: key,
  amountMinor,
  currency: "USD",
  serviceId: "mobile-top-up",
  details: { kind: { $case: "mobileTopUp", value: { phoneNumber: "+14155550123" } } },
});

const stub = (options: Partial<ConstructorParameters<typeof StubPaymentProvider>[0]> = {}) =>
  new StubPaymentProvider({ latencyMs: 1, rules: { declinedNumbers: new Set() }, ...options });

describe("StubPaymentProvider", () => {
  it("charging twice with the same key returns the first result and charges once", async () => {
    const provider = stub();
    const first = await provider.charge(request("k1"));
    const second = await provider.charge(request("k1"));
    expect(first.outcome).to.equal("APPROVED");
    expect(second).to.deep.equal(first);
    expect(provider.chargeCount("k1")).to.equal(1);
  });

  it("concurrent charges with the same key charge once", async () => {
    const provider = stub({ latencyMs: 20 });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => provider.charge(request("k2"))));
    expect(new Set(results.map((r) => JSON.stringify(r))).size).to.equal(1);
    expect(provider.chargeCount("k2")).to.equal(1);
    expect(provider.maxConcurrentCalls).to.equal(5);
  });

  it("different keys are charged separately", async () => {
    const provider = stub();
    await provider.charge(request("a"));
    await provider.charge(request("b"));
    expect(provider.totalCharges).to.equal(2);
  });

  it("a declined charge takes no money and stays declined on replay", async () => {
    const provider = stub({ rules: { declineAboveMinor: 500n, declinedNumbers: new Set() } });
    const first = await provider.charge(request("d", 501n));
    expect(first.outcome).to.equal("DECLINED");
    expect(await provider.charge(request("d", 501n))).to.deep.equal(first);
    expect(provider.chargeCount("d")).to.equal(0);
  });

  it("a transient failure happens before charging", async () => {
    const provider = stub({ transientFailureRate: 1 });
    let error: unknown;
    await provider.charge(request("t")).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(ProviderUnavailableError);
    expect(provider.chargeCount("t")).to.equal(0);
  });

  it("status reports the result of a charge", async () => {
    const provider = stub();
    const charged = await provider.charge(request("s"));
    expect(await provider.status("s")).to.deep.equal(charged);
  });

  it("after reporting no charge for a key, a later charge with it takes no money", async () => {
    const provider = stub();
    expect(await provider.status("late")).to.deep.equal({ outcome: "NOT_FOUND" });
    const late = await provider.charge(request("late"));
    expect(late.outcome).to.equal("DECLINED");
    expect(provider.chargeCount("late")).to.equal(0);
  });
});
