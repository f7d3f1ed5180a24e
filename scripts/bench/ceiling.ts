import { v7 as uuidv7 } from "uuid";
import type { PgClient } from "./pg.js";

/** What the direct-SQL run achieved. */
export interface CeilingResult {
  connections: number;
  durationS: number;
  settled: number;
  settledPerS: number;
  /** Milliseconds per Hold + Settle pair, per connection. */
  pairLatencyP50Ms: number;
  pairLatencyP99Ms: number;
  /** Filled in by the caller, which measures around the run. */
  commitsPerPayment?: number;
  postgresCpuMsPerPayment?: number;
}

/** Not a real fingerprint: the column only needs 64 characters. */
const REQUEST_HASH = "0".repeat(64);
const DETAILS = JSON.stringify({ mobileTopUp: { phoneNumber: "+14155550123" } });

/**
 * The statements Processing issues for Hold (services/processing/src/money/holdPayment.ts)
 * and Settle(APPROVED) (settlePayment.ts), in the same order and transactions, sent
 * straight to PostgreSQL from `connections` plain connections, each running Hold then
 * Settle in a loop. Nothing sits in between: no gRPC, no NATS, no ORM, no provider.
 */
export async function runCeiling(
  clients: PgClient[],
  options: { durationMs: number; payer: (n: number) => string; amountMinor: bigint; serviceId: string; providerOwner: string },
): Promise<CeilingResult> {
  const amount = options.amountMinor.toString();
  let next = 0;
  let settled = 0;
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + options.durationMs;

  const worker = async (db: PgClient) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const n = next++;
      const userId = options.payer(n);
      const key = `ceiling-${n}`;
      // Hold: the idempotency lookup, then one transaction.
      await db.query("select * from payments where user_id = $1 and idempotency_key = $2 limit 1", [userId, key]);
      await db.query("begin");
      const payer = (await db.query<{ id: string }>("select id from accounts where owner_id = $1 and currency = $2 and kind = 'USER'", [userId, "USD"]))
        .rows[0]!;
      const payee = (
        await db.query<{ id: string }>("select id from accounts where owner_id = $1 and currency = $2 and kind = 'PROVIDER'", [options.providerOwner, "USD"])
      ).rows[0]!;
      const paymentId = uuidv7();
      await db.query(
        `insert into payments (id, user_id, idempotency_key, request_hash, payer_account_id, payee_account_id,
                               service_id, details, amount_minor, currency, status, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, 'CREATED', now(), now())
         on conflict (user_id, idempotency_key) do nothing returning *`,
        [paymentId, userId, key, REQUEST_HASH, payer.id, payee.id, options.serviceId, DETAILS, amount, "USD"],
      );
      const held = await db.query(
        "update accounts set held_minor = held_minor + $1, updated_at = now() where id = $2 and balance_minor - held_minor >= $3 returning id",
        [amount, payer.id, amount],
      );
      if (held.rowCount !== 1) throw new Error(`ceiling: ${userId} ran out of money; seed a bigger balance`);
      await db.query("insert into ledger_entries (account_id, payment_id, kind, amount_minor, currency) values ($1, $2, 'HOLD', $3, $4)", [
        payer.id,
        paymentId,
        amount,
        "USD",
      ]);
      await db.query("commit");

      // Settle(APPROVED): one transaction.
      const settleKey = `settle:${paymentId}`;
      await db.query("begin");
      await db.query("select payment_id, outcome from settlements where idempotency_key = $1", [settleKey]);
      await db.query("select * from payments where id = $1 for update", [paymentId]);
      await db.query(
        `update accounts set balance_minor = balance_minor - $1, held_minor = held_minor - $2, updated_at = now()
         where id = $3 and held_minor >= $4 returning id`,
        [amount, amount, payer.id, amount],
      );
      await db.query("update accounts set balance_minor = balance_minor + $1, updated_at = now() where id = $2 returning id", [amount, payee.id]);
      for (const [accountId, kind] of [
        [payer.id, "CAPTURE"],
        [payee.id, "CREDIT"],
      ] as const)
        await db.query("insert into ledger_entries (account_id, payment_id, kind, amount_minor, currency) values ($1, $2, $3, $4, $5)", [
          accountId,
          paymentId,
          kind,
          amount,
          "USD",
        ]);
      await db.query(
        `update payments set status = $1, reject_reason = null, reject_message = null, updated_at = now(), resolved_at = now()
         where id = $2 and status = 'CREATED' returning *`,
        ["APPROVED", paymentId],
      );
      await db.query("insert into settlements (idempotency_key, payment_id, outcome) values ($1, $2, $3) on conflict do nothing", [
        settleKey,
        paymentId,
        "APPROVED",
      ]);
      await db.query("select payment_id, outcome from settlements where idempotency_key = $1", [settleKey]);
      await db.query("commit");
      settled++;
      latencies.push(performance.now() - t0);
    }
  };

  await Promise.all(clients.map(worker));
  const durationS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    connections: clients.length,
    durationS,
    settled,
    settledPerS: settled / durationS,
    pairLatencyP50Ms: percentile(latencies, 0.5),
    pairLatencyP99Ms: percentile(latencies, 0.99),
  };
}

/** The `q`-quantile of an ascending array (nearest rank); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
