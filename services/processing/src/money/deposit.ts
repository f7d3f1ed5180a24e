import type { EntityManager } from "@mikro-orm/postgresql";
import { v7 as uuidv7 } from "uuid";
import type { AccountKind } from "../db/entities/account.entity.js";
import { inTransaction, query } from "./sql.js";

/** Opens the account of `ownerId` in `currency` if it does not exist; returns its id either way. */
export async function openAccount(em: EntityManager, ownerId: string, currency: string, kind: AccountKind): Promise<string> {
  await query(
    em,
    `insert into accounts (id, owner_id, currency, kind, balance_minor, held_minor)
     values (?, ?, ?, ?, 0, 0) on conflict (owner_id, currency) do nothing`,
    [uuidv7(), ownerId, currency, kind],
  );
  const [row] = await query<{ id: string }>(em, "select id from accounts where owner_id = ? and currency = ?", [ownerId, currency]);
  return row!.id;
}

/**
 * Puts money on an account from outside the system, once per `reference`: a repeated
 * deposit with the same reference changes nothing. Returns true if money was added.
 */
export async function deposit(em: EntityManager, accountId: string, amountMinor: bigint, currency: string, reference: string): Promise<boolean> {
  return inTransaction(em, async (tx) => {
    const inserted = await query(
      tx,
      `insert into ledger_entries (account_id, kind, amount_minor, currency, reference)
       values (?, 'DEPOSIT', ?, ?, ?) on conflict (reference) do nothing returning id`,
      [accountId, amountMinor.toString(), currency, reference],
    );
    if (inserted.length === 0) return false;
    await query(tx, "update accounts set balance_minor = balance_minor + ?, updated_at = now() where id = ?", [amountMinor.toString(), accountId]);
    return true;
  });
}
