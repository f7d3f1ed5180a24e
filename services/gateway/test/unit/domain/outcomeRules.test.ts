import { expect } from "chai";
import type { PaymentDetails } from "@payments/contracts/gen/payments/v1/payment";
import { decideOutcome, subscriberNumber, type OutcomeRules } from "../../../src/domain/outcomeRules.js";

const phone = (phoneNumber: string): PaymentDetails => ({ kind: { $case: "mobileTopUp", value: { phoneNumber } } });
const contract = (contractNumber: string): PaymentDetails => ({ kind: { $case: "homeInternet", value: { contractNumber } } });
const account = (accountNumber: string): PaymentDetails => ({ kind: { $case: "utilityBill", value: { accountNumber, billingPeriod: "2025-01" } } });

const noRules: OutcomeRules = { declinedNumbers: new Set() };

describe("decideOutcome", () => {
  it("approves by default", () => {
    expect(decideOutcome(noRules, { amountMinor: 10_000_000n, currency: "USD", details: phone("+14155550123") })).to.deep.equal({ outcome: "APPROVED" });
  });

  it("declines amounts above the limit and approves the limit itself", () => {
    const rules: OutcomeRules = { declineAboveMinor: 5_000n, declinedNumbers: new Set() };
    expect(decideOutcome(rules, { amountMinor: 5_000n, currency: "USD", details: phone("+14155550123") }).outcome).to.equal("APPROVED");
    const verdict = decideOutcome(rules, { amountMinor: 5_001n, currency: "USD", details: phone("+14155550123") });
    expect(verdict.outcome).to.equal("DECLINED");
    expect(verdict.outcome === "DECLINED" && verdict.reason).to.match(/limit/);
  });

  it("declines a listed phone, contract or account number", () => {
    const rules: OutcomeRules = { declinedNumbers: new Set(["+14155550199", "123456", "12345678"]) };
    for (const details of [phone("+14155550199"), contract("123456"), account("12345678")]) {
      const verdict = decideOutcome(rules, { amountMinor: 100n, currency: "USD", details });
      expect(verdict.outcome, subscriberNumber(details)).to.equal("DECLINED");
      expect(verdict.outcome === "DECLINED" && verdict.reason).to.include(subscriberNumber(details));
    }
    expect(decideOutcome(rules, { amountMinor: 100n, currency: "USD", details: phone("+14155550123") }).outcome).to.equal("APPROVED");
  });
});

describe("subscriberNumber", () => {
  it("reads the number of every kind of details", () => {
    expect(subscriberNumber(phone("+1"))).to.equal("+1");
    expect(subscriberNumber(contract("2"))).to.equal("2");
    expect(subscriberNumber(account("3"))).to.equal("3");
    expect(subscriberNumber({ kind: undefined })).to.equal(undefined);
  });
});
