import type { MikroORM } from "@mikro-orm/postgresql";
import { Counter, Gauge, Histogram } from "prom-client";
import type { Payment } from "./db/entities/payment.entity.js";

/** Payments resolved by Settle, by outcome; a replayed Settle is not counted again. */
export const paymentsSettled = new Counter({
  name: "payments_settled_total",
  help: "Payments settled (hold captured or released), by outcome",
  labelNames: ["outcome"] as const,
});

/** Create-to-terminal time of the saga, observed when Settle resolves a payment. */
export const sagaDuration = new Histogram({
  name: "payment_saga_duration_seconds",
  help: "Time from a payment's creation (hold) to its terminal status, in seconds, by outcome",
  labelNames: ["outcome"] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
});

const parkedPayments = new Gauge({
  name: "payments_parked",
  help: "CREATED payments parked for manual review (the provider's outcome is unknown)",
});

const stalePayments = new Gauge({
  name: "payments_stale",
  help: "CREATED payments older than METRICS_STALE_AFTER_MS that are not parked (a stuck hand-over)",
});

const heldMoney = new Gauge({
  name: "accounts_held_minor",
  help: "Money held on all accounts (minor units), by currency",
  labelNames: ["currency"] as const,
});

/** Counts a payment that Settle has just resolved (not a replay). */
export function recordSettled(payment: Payment, outcome: string, now = Date.now()): void {
  paymentsSettled.inc({ outcome });
  sagaDuration.observe({ outcome }, Math.max(0, now - payment.createdAt.getTime()) / 1000);
}

/** Reads the gauges from the database: a few aggregate queries over indexed rows. */
export async function refreshProcessingGauges(orm: MikroORM, staleAfterMs: number): Promise<void> {
  const connection = orm.em.getConnection();
  const [counts] = await connection.execute<{ parked: string; stale: string }[]>(
    `select count(*) filter (where review_since is not null) as parked,
            count(*) filter (where review_since is null and created_at < now() - make_interval(secs => ?)) as stale
       from payments where status = 'CREATED'`,
    [staleAfterMs / 1000],
  );
  const held = await connection.execute<{ currency: string; held: string }[]>(
    "select currency, sum(held_minor)::text as held from accounts group by currency",
  );
  parkedPayments.set(Number(counts?.parked ?? 0));
  stalePayments.set(Number(counts?.stale ?? 0));
  heldMoney.reset();
  for (const row of held) heldMoney.set({ currency: row.currency }, Number(row.held));
}
