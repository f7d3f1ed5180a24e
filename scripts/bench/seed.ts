import type { PgClient } from "./pg.js";

/** Owner id of the single account `--hot` runs pay from. */
export const HOT_USER = "bench-hot";

/** Owner id of the `index`-th seeded user. */
export function benchUser(index: number): string {
  return `bench-${index}`;
}

/**
 * Opens `users` USD accounts (bench-0 … bench-N-1) and the hot account, each funded with a
 * DEPOSIT ledger entry so that the ledger still explains every balance. One statement per
 * table: thousands of users are seeded in well under a second.
 */
export async function seedAccounts(db: PgClient, users: number, balanceMinor: bigint, hotBalanceMinor: bigint): Promise<void> {
  await db.query("begin");
  try {
    await db.query(
      `insert into accounts (id, owner_id, currency, kind, balance_minor, held_minor)
       select gen_random_uuid(), 'bench-' || g, 'USD', 'USER', $1::bigint, 0 from generate_series(0, $2::int - 1) g
       union all select gen_random_uuid(), $3, 'USD', 'USER', $4::bigint, 0
       on conflict (owner_id, currency) do nothing`,
      [balanceMinor.toString(), users, HOT_USER, hotBalanceMinor.toString()],
    );
    await db.query(
      `insert into ledger_entries (account_id, kind, amount_minor, currency, reference)
       select id, 'DEPOSIT', balance_minor, currency, 'bench-seed:' || owner_id from accounts
       where kind = 'USER' and owner_id like 'bench-%'
       on conflict (reference) do nothing`,
    );
    await db.query("commit");
  } catch (err) {
    await db.query("rollback");
    throw err;
  }
}
