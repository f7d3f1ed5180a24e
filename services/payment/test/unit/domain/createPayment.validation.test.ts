import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { RpcError } from "@payments/common/grpc/errors";
import type { CreatePaymentRequest } from "@payments/contracts/gen/payments/v1/payment_service";
import { validateCreatePayment } from "../../../src/domain/createPayment.validation.js";
import { normalisePageSize, validatePaymentId } from "../../../src/domain/queries.js";

const topUp = (over: Partial<CreatePaymentRequest> = {}): CreatePaymentRequest => ({
  idempotencyKey: "key-1",
  serviceId: "mobile-top-up",
  details: { kind: { $case: "mobileTopUp", value: { phoneNumber: "+14155550123" } } },
  amount: { currencyCode: "USD", amountMinor: 1000n },
  ...over,
});

/** Runs `fn`, expects INVALID_ARGUMENT, and returns its message. */
function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(RpcError);
    expect((err as RpcError).code).to.equal(status.INVALID_ARGUMENT);
    return (err as RpcError).message;
  }
  throw new Error("expected INVALID_ARGUMENT, but the input was accepted");
}

describe("CreatePayment validation", () => {
  it("accepts a valid mobile top-up and normalises the phone number to E.164", () => {
    const valid = validateCreatePayment(
      topUp({
        details: { kind: { $case: "mobileTopUp", value: { phoneNumber: " +1 (415) 555-0123 " } } },
        amount: { currencyCode: "usd", amountMinor: 1000n },
      }),
    );
    expect(valid.details).to.deep.equal({ kind: { $case: "mobileTopUp", value: { phoneNumber: "+14155550123" } } });
    expect(valid.amount).to.deep.equal({ currencyCode: "USD", amountMinor: 1000n });
  });

  it("accepts home internet and utility bill details", () => {
    expect(
      validateCreatePayment(
        topUp({ serviceId: "home-internet", details: { kind: { $case: "homeInternet", value: { contractNumber: "40012345" } } } }),
      ).details,
    ).to.deep.equal({ kind: { $case: "homeInternet", value: { contractNumber: "40012345" } } });
    const bill = validateCreatePayment(
      topUp({
        serviceId: "utility-bill",
        details: { kind: { $case: "utilityBill", value: { accountNumber: "1002003004", billingPeriod: "2026-10" } } },
      }),
    );
    expect(bill.serviceId).to.equal("utility-bill");
  });

  describe("idempotency_key", () => {
    for (const [name, key] of [
      ["that is empty", ""],
      ["containing a space", "key 1"],
      ["containing a colon", "a:b"],
      ["of 65 characters", "k".repeat(65)],
    ] as const) {
      it(`refuses a key ${name}`, () => {
        expect(invalid(() => validateCreatePayment(topUp({ idempotencyKey: key })))).to.match(/^idempotency_key: /);
      });
    }
    it("accepts 64 characters of the allowed alphabet", () => {
      expect(validateCreatePayment(topUp({ idempotencyKey: "aZ0_-".repeat(12) + "abcd" })).idempotencyKey).to.have.length(64);
    });
  });

  it("refuses an unknown service", () => {
    expect(invalid(() => validateCreatePayment(topUp({ serviceId: "casino" })))).to.match(/^service_id: unknown service/);
    expect(invalid(() => validateCreatePayment(topUp({ serviceId: "" })))).to.match(/^service_id: is required/);
  });

  it("refuses missing details", () => {
    expect(invalid(() => validateCreatePayment(topUp({ details: undefined })))).to.match(/^details: is required/);
    expect(invalid(() => validateCreatePayment(topUp({ details: { kind: undefined } })))).to.match(/^details: is required/);
  });

  it("refuses a details variant that does not match the service kind", () => {
    const message = invalid(() =>
      validateCreatePayment(topUp({ details: { kind: { $case: "homeInternet", value: { contractNumber: "40012345" } } } })),
    );
    expect(message).to.equal("details: service mobile-top-up takes details.mobile_top_up, got details.home_internet");
  });

  describe("details.mobile_top_up.phone_number", () => {
    for (const [name, phone] of [
      ["that is empty", ""],
      ["without +", "14155550123"],
      ["that is too short", "+1234"],
      ["with an unknown country code", "+999123456789"],
      ["with letters", "+1415555CALL"],
      ["with an extension", "+1 415 555 0123 ext. 5"],
    ] as const) {
      it(`refuses a number ${name}`, () => {
        const message = invalid(() =>
          validateCreatePayment(topUp({ details: { kind: { $case: "mobileTopUp", value: { phoneNumber: phone } } } })),
        );
        expect(message).to.match(/^details\.mobile_top_up\.phone_number: /);
      });
    }
  });

  it("refuses a contract number that is not 6-12 digits", () => {
    for (const contractNumber of ["12345", "1234567890123", "12345a"]) {
      const message = invalid(() =>
        validateCreatePayment(topUp({ serviceId: "home-internet", details: { kind: { $case: "homeInternet", value: { contractNumber } } } })),
      );
      expect(message).to.match(/^details\.home_internet\.contract_number: /);
    }
  });

  it("refuses a bad account number or billing period", () => {
    const bill = (accountNumber: string, billingPeriod: string) =>
      invalid(() =>
        validateCreatePayment(
          topUp({ serviceId: "utility-bill", details: { kind: { $case: "utilityBill", value: { accountNumber, billingPeriod } } } }),
        ),
      );
    expect(bill("1234567", "2026-10")).to.match(/^details\.utility_bill\.account_number: /);
    expect(bill("12345678901234567", "2026-10")).to.match(/^details\.utility_bill\.account_number: /);
    expect(bill("1002003004", "2026-13")).to.match(/^details\.utility_bill\.billing_period: month/);
    expect(bill("1002003004", "2026-00")).to.match(/^details\.utility_bill\.billing_period: month/);
    expect(bill("1002003004", "10/2026")).to.match(/^details\.utility_bill\.billing_period: must be YYYY-MM/);
    expect(bill("1002003004", "")).to.match(/^details\.utility_bill\.billing_period: is required/);
  });

  describe("amount", () => {
    const withAmount = (currencyCode: string, amountMinor: bigint) => topUp({ amount: { currencyCode, amountMinor } });

    it("refuses a missing amount", () => {
      expect(invalid(() => validateCreatePayment(topUp({ amount: undefined })))).to.equal("amount: is required");
    });
    it("refuses an unknown currency", () => {
      expect(invalid(() => validateCreatePayment(withAmount("ABC", 1000n)))).to.match(/^amount\.currency_code: unknown currency/);
      expect(invalid(() => validateCreatePayment(withAmount("DOLLARS", 1000n)))).to.match(/^amount\.currency_code: unknown currency/);
      expect(invalid(() => validateCreatePayment(withAmount("", 1000n)))).to.match(/^amount\.currency_code: is required/);
    });
    it("refuses a real currency the service does not accept", () => {
      expect(invalid(() => validateCreatePayment(withAmount("GBP", 1000n)))).to.equal(
        "amount.currency_code: service mobile-top-up does not accept GBP (accepts USD, EUR)",
      );
    });
    it("refuses zero, negative, too small and huge amounts, naming amount_minor", () => {
      expect(invalid(() => validateCreatePayment(withAmount("USD", 0n)))).to.equal("amount.amount_minor: must be greater than zero, got 0");
      expect(invalid(() => validateCreatePayment(withAmount("USD", -500n)))).to.equal("amount.amount_minor: must be positive, got -500");
      expect(invalid(() => validateCreatePayment(withAmount("USD", 99n)))).to.match(/^amount\.amount_minor: 99 is below the minimum of 100/);
      expect(invalid(() => validateCreatePayment(withAmount("USD", 9_223_372_036_854_775_807n)))).to.match(
        /^amount\.amount_minor: 9223372036854775807 is above the maximum of 20000/,
      );
    });
    it("accepts the inclusive limits", () => {
      expect(validateCreatePayment(withAmount("EUR", 100n)).amount.amountMinor).to.equal(100n);
      expect(validateCreatePayment(withAmount("EUR", 20_000n)).amount.amountMinor).to.equal(20_000n);
    });
  });
});

describe("query validation", () => {
  it("refuses a payment id that is not a UUID", () => {
    expect(invalid(() => validatePaymentId("42"))).to.match(/^payment_id: must be a UUID/);
    expect(invalid(() => validatePaymentId(""))).to.match(/^payment_id: is required/);
    expect(validatePaymentId("3F2504E0-4F89-41D3-9A0C-0305E82C3301")).to.equal("3f2504e0-4f89-41d3-9a0c-0305e82c3301");
  });
  it("defaults, caps and refuses page sizes", () => {
    expect(normalisePageSize(0)).to.equal(20);
    expect(normalisePageSize(7)).to.equal(7);
    expect(normalisePageSize(1000)).to.equal(100);
    expect(invalid(() => normalisePageSize(-1))).to.match(/^page_size: /);
  });
});
