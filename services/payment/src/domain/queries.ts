import { validate as isUuid } from "uuid";
import { invalidArgument } from "@payments/common/grpc/errors";

/** Page size used when the client sends 0. */
export const DEFAULT_PAGE_SIZE = 20;
/** Larger requests are served this many. */
export const MAX_PAGE_SIZE = 100;

/** Payment ids are server-assigned UUIDs; anything else cannot exist. */
export function validatePaymentId(paymentId: string): string {
  if (paymentId === "") throw invalidArgument("payment_id", "is required");
  if (paymentId.length > 36) throw invalidArgument("payment_id", "must be a UUID");
  if (!isUuid(paymentId)) throw invalidArgument("payment_id", "must be a UUID");
  return paymentId.toLowerCase();
}

/** Page tokens are Processing's (an encoded payment id); anything longer was not one of ours. */
export const MAX_PAGE_TOKEN_LENGTH = 128;

export function validatePageToken(pageToken: string): string {
  if (pageToken.length > MAX_PAGE_TOKEN_LENGTH) throw invalidArgument("page_token", "is not a token returned by ListPayments");
  return pageToken;
}

/** 0 means the default; above the maximum is capped; negative is refused. */
export function normalisePageSize(pageSize: number): number {
  if (pageSize < 0) throw invalidArgument("page_size", `must not be negative, got ${pageSize}`);
  if (pageSize === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(pageSize, MAX_PAGE_SIZE);
}
