import type { CreatePaymentRequest } from "@payments/contracts/gen/payments/v1/payment_service";

/** A valid mobile top-up request with a fresh idempotency key, overridable field by field. */
export function topUp(overrides: Partial<CreatePaymentRequest> = {}): CreatePaymentRequest {
  return {
    idempotencyKey: `k-${Math.random().toString(36).slice(2)}`,
    serviceId: "mobile-top-up",
    details: { kind: { $case: "mobileTopUp", value: { phoneNumber: "+14155550123" } } },
    amount: { currencyCode: "USD", amountMinor: 1_000n },
    ...overrides,
  };
}
