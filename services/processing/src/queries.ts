import type { EntityManager } from "@mikro-orm/postgresql";
import { invalidArgument, notFound } from "@payments/common/grpc/errors";
import { AccountSchema, type Account } from "./db/entities/account.entity.js";
import { PaymentSchema, type Payment } from "./db/entities/payment.entity.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function assertUuid(field: string, value: string): void {
  if (!UUID.test(value)) throw invalidArgument(field, "must be a UUID");
}

/** One user's payment; another user's payment is reported exactly like a missing one. */
export async function getPayment(em: EntityManager, userId: string, paymentId: string): Promise<Payment> {
  assertUuid("payment_id", paymentId);
  const payment = await em.findOne(PaymentSchema, { id: paymentId, userId });
  if (!payment) throw notFound(`payment ${paymentId} not found`);
  return payment;
}

/**
 * A page of one user's payments, newest first. Ids are UUIDv7 (time-ordered), so the
 * page token is simply the last id returned: keyset pagination, stable under inserts.
 */
export async function listPayments(
  em: EntityManager,
  userId: string,
  pageSize: number,
  pageToken: string,
): Promise<{ payments: Payment[]; nextPageToken: string }> {
  let after: string | undefined;
  if (pageToken !== "") {
    // A real token is a base64url UUID (48 characters); anything much longer is refused undecoded.
    if (pageToken.length > 128) throw invalidArgument("page_token", "is not a token returned by ListPayments");
    after = Buffer.from(pageToken, "base64url").toString("utf8");
    if (!UUID.test(after)) throw invalidArgument("page_token", "is not a token returned by ListPayments");
  }
  const rows = await em.find(PaymentSchema, after ? { userId, id: { $lt: after } } : { userId }, {
    orderBy: { id: "desc" },
    limit: pageSize + 1,
  });
  const payments = rows.slice(0, pageSize);
  const nextPageToken = rows.length > pageSize ? Buffer.from(payments[payments.length - 1]!.id).toString("base64url") : "";
  return { payments, nextPageToken };
}

/** A user's own accounts, one per currency. */
export function getAccounts(em: EntityManager, userId: string): Promise<Account[]> {
  return em.find(AccountSchema, { ownerId: userId, kind: "USER" }, { orderBy: { currency: "asc" } });
}
