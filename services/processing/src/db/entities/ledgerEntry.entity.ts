import { BigIntType, EntitySchema } from "@mikro-orm/core";

/**
 * DEPOSIT puts money on an account from outside (seed, top-up of the bank account);
 * HOLD reserves it for a payment; CAPTURE takes the held money off the payer and CREDIT
 * puts it on the provider's account; RELEASE gives a hold back.
 */
export type LedgerEntryKind = "DEPOSIT" | "HOLD" | "CAPTURE" | "CREDIT" | "RELEASE";

/** One traced change of money. Append-only. */
export interface LedgerEntry {
  id: string;
  accountId: string;
  paymentId?: string | null;
  kind: LedgerEntryKind;
  amountMinor: bigint;
  currency: string;
  /** Idempotency reference of a deposit, e.g. "seed:alice:USD". */
  reference?: string | null;
  createdAt: Date;
}

export const LedgerEntrySchema = new EntitySchema<LedgerEntry>({
  name: "LedgerEntry",
  tableName: "ledger_entries",
  properties: {
    id: { type: new BigIntType("string"), primary: true, autoincrement: true },
    accountId: { type: "uuid" },
    paymentId: { type: "uuid", nullable: true },
    kind: { type: "string", length: 16 },
    amountMinor: { type: new BigIntType("bigint") },
    currency: { type: "string", length: 3 },
    reference: { type: "string", length: 128, nullable: true },
    createdAt: { type: "datetime" },
  },
});
