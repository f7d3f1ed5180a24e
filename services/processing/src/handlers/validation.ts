import { findService } from "@payments/catalog/catalog";
import { invalidArgument, quote } from "@payments/common/grpc/errors";
import type { ClaimStalePaymentsRequest, HoldRequest, SettleRequest } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { PaymentDetails, RejectReason } from "@payments/contracts/gen/payments/v1/payment";
import { SettleOutcome } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import type { HoldCommand } from "../money/holdPayment.js";
import type { SettleCommand } from "../money/settlePayment.js";
import { assertUuid } from "../queries.js";
import { rejectReasonName } from "./protoMapping.js";

/** Longest phone, contract, account number or billing period kept with a payment. */
const MAX_DETAIL_LENGTH = 64;

/** Largest amount the database column takes; the public API has far lower limits. */
const MAX_AMOUNT_MINOR = 2n ** 63n - 1n;

export function requireUserId(userId: string): string {
  if (!/^[A-Za-z0-9._@-]{1,128}$/.test(userId)) throw invalidArgument("user_id", "must be 1-128 characters of [A-Za-z0-9._@-]");
  return userId;
}

/**
 * Checks a Hold request's shape. The public API validates the details and limits for the
 * end user; this is the last line that keeps malformed money out of the ledger.
 */
export function toHoldCommand(request: HoldRequest): HoldCommand {
  const userId = requireUserId(request.userId);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(request.idempotencyKey))
    throw invalidArgument("idempotency_key", "must be 1-64 characters of [A-Za-z0-9_-]");
  if (!findService(request.serviceId)) throw invalidArgument("service_id", `unknown service ${quote(request.serviceId)}`);
  if (!request.details?.kind) throw invalidArgument("details", "is required");
  // Stored as given: the payment service validated the format, this bounds what reaches the row.
  for (const [name, value] of Object.entries(request.details.kind.value))
    if (typeof value === "string" && value.length > MAX_DETAIL_LENGTH)
      throw invalidArgument(`details.${name}`, `must be at most ${MAX_DETAIL_LENGTH} characters`);
  const amount = request.amount;
  if (!amount) throw invalidArgument("amount", "is required");
  if (!/^[A-Z]{3}$/.test(amount.currencyCode)) throw invalidArgument("amount.currency_code", "must be an ISO 4217 code");
  if (amount.amountMinor <= 0n || amount.amountMinor > MAX_AMOUNT_MINOR)
    throw invalidArgument("amount.amount_minor", "must be positive and fit in 63 bits");
  return {
    userId,
    idempotencyKey: request.idempotencyKey,
    serviceId: request.serviceId,
    details: PaymentDetails.toJSON(request.details) as Record<string, unknown>,
    amountMinor: amount.amountMinor,
    currency: amount.currencyCode,
  };
}

export function toSettleCommand(request: SettleRequest): SettleCommand {
  assertUuid("payment_id", request.paymentId);
  if (request.idempotencyKey.length === 0 || request.idempotencyKey.length > 128)
    throw invalidArgument("idempotency_key", "must be 1-128 characters");
  if (request.note.length > 1000) throw invalidArgument("note", "must be at most 1000 characters");
  const common = { paymentId: request.paymentId, idempotencyKey: request.idempotencyKey, requireUnderReview: request.requireUnderReview, note: request.note };
  switch (request.outcome) {
    case SettleOutcome.SETTLE_OUTCOME_APPROVED:
      return { ...common, outcome: "APPROVED" };
    case SettleOutcome.SETTLE_OUTCOME_REJECTED:
      if (request.rejectReason === RejectReason.REJECT_REASON_UNSPECIFIED || !(request.rejectReason in RejectReason) || request.rejectReason < 0)
        throw invalidArgument("reject_reason", "is required when the outcome is REJECTED");
      return {
        ...common,
        outcome: "REJECTED",
        rejectReason: rejectReasonName(request.rejectReason),
        rejectMessage: request.rejectMessage.slice(0, 500),
      };
    default:
      throw invalidArgument("outcome", "must be APPROVED or REJECTED");
  }
}

export function toPageSize(pageSize: number): number {
  if (pageSize < 0) throw invalidArgument("page_size", "must not be negative");
  return pageSize === 0 ? 20 : Math.min(pageSize, 100);
}

/** Validates ClaimStalePayments' numbers; reclaimAfterMs 0 means olderThanMs. */
export function toClaimStale(request: ClaimStalePaymentsRequest): { olderThanMs: number; reclaimAfterMs: number; limit: number } {
  const year = 365n * 24n * 3_600_000n;
  if (request.olderThanMs <= 0n || request.olderThanMs > year) throw invalidArgument("older_than_ms", "must be positive and at most a year");
  if (request.reclaimAfterMs < 0n || request.reclaimAfterMs > year) throw invalidArgument("reclaim_after_ms", "must be 0 to a year");
  if (request.limit < 1 || request.limit > 1000) throw invalidArgument("limit", "must be 1-1000");
  const olderThanMs = Number(request.olderThanMs);
  return { olderThanMs, reclaimAfterMs: request.reclaimAfterMs === 0n ? olderThanMs : Number(request.reclaimAfterMs), limit: request.limit };
}
