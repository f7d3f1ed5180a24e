import type { PaymentDetails } from "@payments/contracts/gen/payments/v1/payment";

/** One charge at the external payment system. */
export interface ChargeRequest {
  paymentId: string;
  /** The provider charges at most once per key; a repeat returns the first result. */
  idempotencyKey: string;
  amountMinor: bigint;
  currency: string;
  serviceId: string;
  details: PaymentDetails;
}

/** The provider's final word on a charge. */
export type ChargeResult = { outcome: "APPROVED"; providerReference: string } | { outcome: "DECLINED"; reason: string };

/**
 * What the provider knows about an idempotency key. NOT_FOUND must be final: a provider
 * adapter that answers it guarantees that a later charge with that key will not take money
 * (the gateway rejects the payment and releases the hold on that answer). PENDING means a
 * charge with the key is still being carried out.
 */
export type ChargeStatus = ChargeResult | { outcome: "NOT_FOUND" } | { outcome: "PENDING" };

/** The external payment system, as the gateway sees it. */
export interface PaymentProvider {
  /** Charges once per idempotency key; throws {@link ProviderUnavailableError} when it cannot tell. */
  charge(request: ChargeRequest): Promise<ChargeResult>;
  /** Looks up a charge by its idempotency key; throws {@link ProviderUnavailableError} when it cannot tell. */
  status(idempotencyKey: string): Promise<ChargeStatus>;
}

/**
 * The provider could not be reached or did not answer: whether money moved is unknown, so
 * the same charge (same key) has to be tried again later.
 */
export class ProviderUnavailableError extends Error {
  override name = "ProviderUnavailableError";
}
