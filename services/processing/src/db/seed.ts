import type { EntityManager } from "@mikro-orm/postgresql";
import { catalog, providerAccountOwner } from "@payments/catalog/catalog";
import { deposit, openAccount } from "../money/deposit.js";

/** Demo users and their opening balances, in minor units. */
export const demoUsers: ReadonlyArray<{ userId: string; balances: Record<string, bigint> }> = [
  { userId: "alice", balances: { USD: 100_000n, EUR: 50_000n } },
  { userId: "bob", balances: { USD: 20_000n } },
  { userId: "carol", balances: { USD: 1_500n } },
];

/**
 * Opens a settlement account for every service provider and currency in the catalog.
 * Always run: payments cannot be captured without them.
 */
export async function openProviderAccounts(em: EntityManager): Promise<void> {
  for (const service of catalog)
    for (const limit of service.limits) await openAccount(em, providerAccountOwner(service.id), limit.currency, "PROVIDER");
}

/** Opens and funds the demo users' accounts. Idempotent: deposits are keyed by reference. */
export async function seedDemoUsers(em: EntityManager): Promise<void> {
  for (const user of demoUsers)
    for (const [currency, amount] of Object.entries(user.balances)) {
      const accountId = await openAccount(em, user.userId, currency, "USER");
      await deposit(em, accountId, amount, currency, `seed:${user.userId}:${currency}`);
    }
}
