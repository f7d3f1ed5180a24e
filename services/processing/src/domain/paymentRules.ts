import { createHash } from "node:crypto";
import type { PaymentStatusName } from "../db/entities/payment.entity.js";

/** The two ways a CREATED payment can end. */
export type Outcome = "APPROVED" | "REJECTED";

/**
 * What a Settle request does to a payment in `status`:
 * - "apply": the payment is CREATED, resolve it with the outcome;
 * - "already": it already ended with this outcome, nothing to do;
 * - "conflict": it ended with the other outcome; a terminal status never changes.
 */
export function settleDecision(status: PaymentStatusName, outcome: Outcome): "apply" | "already" | "conflict" {
  if (status === "CREATED") return "apply";
  return status === outcome ? "already" : "conflict";
}

/** The parts of a hold request that make two requests "the same" for idempotency. */
export interface HoldFingerprintInput {
  serviceId: string;
  details: unknown;
  amountMinor: bigint;
  currency: string;
}

/**
 * SHA-256 over a canonical JSON of the request. A retry with the same key must carry the
 * same fingerprint; anything else is a reuse of the key for another payment.
 */
export function holdFingerprint(input: HoldFingerprintInput): string {
  const canonical = JSON.stringify([input.serviceId, canonicalJson(input.details), input.amountMinor.toString(), input.currency]);
  return createHash("sha256").update(canonical).digest("hex");
}

/** JSON with object keys sorted, so equal values always serialise the same way. */
function canonicalJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalJson);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonicalJson(v)]),
    );
  }
  return value;
}
