import { invalidArgument, quote } from "@payments/common/grpc/errors";
import { findService } from "@payments/catalog/catalog";
import type { CreatePaymentRequest } from "@payments/contracts/gen/payments/v1/payment_service";
import type { Money, PaymentDetails } from "@payments/contracts/gen/payments/v1/payment";
import { validatePaymentDetails } from "./paymentDetails.js";
import { validateAmount } from "./money.js";

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_-]{1,64}$/;

/** A CreatePayment request that passed every check, with its details and amount normalised. */
export interface ValidCreatePayment {
  idempotencyKey: string;
  serviceId: string;
  details: PaymentDetails;
  amount: Money;
}

/**
 * Validates a CreatePayment request in field order and normalises it. Throws
 * INVALID_ARGUMENT whose message starts with the offending field, e.g.
 * "amount.currency_code: unknown currency \"ABC\"".
 */
export function validateCreatePayment(request: CreatePaymentRequest): ValidCreatePayment {
  const idempotencyKey = validateIdempotencyKey(request.idempotencyKey);
  if (request.serviceId === "") throw invalidArgument("service_id", "is required");
  const service = findService(request.serviceId);
  if (!service) throw invalidArgument("service_id", `unknown service ${quote(request.serviceId)}`);
  const details = validatePaymentDetails(request.details, service);
  const amount = validateAmount(request.amount, service);
  return { idempotencyKey, serviceId: service.id, details, amount };
}

/** 1-64 characters of [A-Za-z0-9_-]; taken as is (a key is an exact token, never trimmed). */
export function validateIdempotencyKey(key: string): string {
  if (key === "") throw invalidArgument("idempotency_key", "is required");
  if (!IDEMPOTENCY_KEY.test(key)) throw invalidArgument("idempotency_key", "must be 1 to 64 characters of A-Z, a-z, 0-9, _ or -");
  return key;
}
