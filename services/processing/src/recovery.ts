import type { EntityManager } from "@mikro-orm/postgresql";
import { invalidArgument, notFound } from "@payments/common/grpc/errors";
import type { Payment } from "./db/entities/payment.entity.js";
import { toPayment } from "./money/paymentRows.js";
import { query } from "./money/sql.js";
import { assertUuid } from "./queries.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Claims up to `limit` CREATED payments whose hand-over may have been lost: created more than
 * `olderThanMs` ago, not under review, not claimed in the last `reclaimAfterMs`. The rows are
 * locked with SKIP LOCKED and stamped in one statement, so concurrent callers (several
 * gateways) never get the same payment in one round.
 */
export async function claimStalePayments(em: EntityManager, olderThanMs: number, reclaimAfterMs: number, limit: number): Promise<Payment[]> {
  const rows = await query(
    em,
    `with claimable as (
       select id from payments
       where status = 'CREATED' and review_since is null
         and created_at < now() - make_interval(secs => ? / 1000.0)
         and (nudged_at is null or nudged_at < now() - make_interval(secs => ? / 1000.0))
       order by created_at
       limit ?
       for update skip locked)
     update payments p set nudged_at = now()
     from claimable c where p.id = c.id
     returning p.*`,
    [olderThanMs, reclaimAfterMs, limit],
  );
  return rows.map((row) => toPayment(em, row)).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

/**
 * Parks a CREATED payment for manual review; the first reason and time are kept on a repeat.
 * Returns the payment and whether it is under review (false: it was already terminal).
 */
export async function flagForReview(em: EntityManager, paymentId: string, reason: string): Promise<{ payment: Payment; flagged: boolean }> {
  assertUuid("payment_id", paymentId);
  const trimmed = reason.trim();
  if (trimmed.length === 0 || trimmed.length > 500) throw invalidArgument("reason", "must be 1-500 characters");
  const [flagged] = await query(
    em,
    `update payments set review_reason = coalesce(review_reason, ?), review_since = coalesce(review_since, now()), updated_at = now()
     where id = ? and status = 'CREATED' returning *`,
    [trimmed, paymentId],
  );
  if (flagged) return { payment: toPayment(em, flagged), flagged: true };
  const [row] = await query(em, "select * from payments where id = ?", [paymentId]);
  if (!row) throw notFound(`payment ${paymentId} not found`);
  return { payment: toPayment(em, row), flagged: false };
}

/**
 * A page of the payments under review, oldest payment first. Ids are UUIDv7 (time-ordered),
 * so the page token is the last id returned, as in ListPayments.
 */
export async function listPaymentsUnderReview(
  em: EntityManager,
  pageSize: number,
  pageToken: string,
): Promise<{ payments: Payment[]; nextPageToken: string }> {
  let after: string | undefined;
  if (pageToken !== "") {
    after = Buffer.from(pageToken, "base64url").toString("utf8");
    if (!UUID.test(after)) throw invalidArgument("page_token", "is not a token returned by ListPaymentsUnderReview");
  }
  const rows = await query(
    em,
    `select * from payments where review_since is not null ${after ? "and id > ?" : ""} order by id limit ?`,
    after ? [after, pageSize + 1] : [pageSize + 1],
  );
  const payments = rows.slice(0, pageSize).map((row) => toPayment(em, row));
  const nextPageToken = rows.length > pageSize ? Buffer.from(payments[payments.length - 1]!.id).toString("base64url") : "";
  return { payments, nextPageToken };
}
