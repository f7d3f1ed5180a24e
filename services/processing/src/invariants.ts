import type { EntityManager } from "@mikro-orm/postgresql";
import { query } from "./money/sql.js";

/** One broken rule, with the rows that break it. */
export interface InvariantViolation {
  rule: string;
  rows: Record<string, unknown>[];
}

/**
 * Each rule is a query returning the rows that break it; an empty result means it holds.
 * Together they say: no money was created or lost, every hold is accounted for, and each
 * payment's ledger matches its status.
 */
const rules: Array<{ rule: string; sql: string }> = [
  {
    rule: "money is conserved per currency: balances add up to the deposits",
    sql: `select currency, balances, deposits from (
            select a.currency, sum(a.balance_minor) as balances,
                   coalesce((select sum(amount_minor) from ledger_entries l where l.kind = 'DEPOSIT' and l.currency = a.currency), 0) as deposits
            from accounts a group by a.currency) t
          where balances <> deposits`,
  },
  {
    rule: "available and held are never negative",
    sql: `select id, owner_id, balance_minor, held_minor from accounts where held_minor < 0 or balance_minor - held_minor < 0`,
  },
  {
    rule: "an account's held amount equals the sum of its CREATED payments",
    sql: `select a.id, a.owner_id, a.held_minor, coalesce(p.created_sum, 0) as created_sum
          from accounts a
          left join (select payer_account_id, sum(amount_minor) as created_sum from payments where status = 'CREATED' group by payer_account_id) p
            on p.payer_account_id = a.id
          where a.held_minor <> coalesce(p.created_sum, 0)`,
  },
  {
    rule: "an account's balance equals its deposits plus credits minus captures",
    sql: `select a.id, a.owner_id, a.balance_minor, coalesce(sum(case l.kind when 'DEPOSIT' then l.amount_minor when 'CREDIT' then l.amount_minor
                                                                     when 'CAPTURE' then -l.amount_minor else 0 end), 0) as ledger_balance
          from accounts a left join ledger_entries l on l.account_id = a.id
          group by a.id having a.balance_minor <> coalesce(sum(case l.kind when 'DEPOSIT' then l.amount_minor when 'CREDIT' then l.amount_minor
                                                                     when 'CAPTURE' then -l.amount_minor else 0 end), 0)`,
  },
  {
    rule: "each payment's ledger matches its status (held once; captured and credited iff APPROVED; released iff REJECTED)",
    sql: `select p.id, p.status, e.kinds from payments p
          left join (select payment_id, string_agg(kind, ',' order by kind) as kinds from ledger_entries where payment_id is not null group by payment_id) e
            on e.payment_id = p.id
          where coalesce(e.kinds, '') <> case p.status when 'CREATED' then 'HOLD'
                                                        when 'APPROVED' then 'CAPTURE,CREDIT,HOLD'
                                                        when 'REJECTED' then 'HOLD,RELEASE' end`,
  },
  {
    rule: "ledger amounts match their payment's amount and currency",
    sql: `select l.id, l.payment_id, l.kind from ledger_entries l join payments p on p.id = l.payment_id
          where l.amount_minor <> p.amount_minor or l.currency <> p.currency`,
  },
];

/** Runs every rule against the database; an empty list means all invariants hold. */
export async function checkInvariants(em: EntityManager): Promise<InvariantViolation[]> {
  return (await checkEachInvariant(em)).filter((result) => result.rows.length > 0);
}

/** Runs every rule and returns each one with the rows that break it (none: it holds), for a report. */
export async function checkEachInvariant(em: EntityManager): Promise<InvariantViolation[]> {
  const results: InvariantViolation[] = [];
  for (const { rule, sql } of rules) results.push({ rule, rows: await query(em, sql) });
  return results;
}

/**
 * CREATED payments older than `olderThanMs`, oldest first: after a quiet spell each one is
 * stuck (or parked for review, which `review_reason` says). to_jsonb reads the review columns
 * without failing on a database migrated before they existed.
 */
export async function stalePendingPayments(
  em: EntityManager,
  olderThanMs: number,
): Promise<Array<{ id: string; user_id: string; amount_minor: string; currency: string; created_at: Date; review_reason: string | null }>> {
  return query(
    em,
    `select id, user_id, amount_minor, currency, created_at, to_jsonb(p) ->> 'review_reason' as review_reason
     from payments p where status = 'CREATED' and created_at < now() - make_interval(secs => ?) order by created_at`,
    [olderThanMs / 1000],
  );
}

/** Payments not yet terminal: after the system quiesces this must be empty. */
export async function pendingPayments(em: EntityManager): Promise<Array<{ id: string; created_at: Date }>> {
  return query(em, "select id, created_at from payments where status = 'CREATED' order by created_at");
}
