import { BigIntType, EntitySchema } from "@mikro-orm/core";

/** USER accounts belong to bank customers; PROVIDER accounts receive captured payments. */
export type AccountKind = "USER" | "PROVIDER";

/**
 * Money of one owner in one currency. `balanceMinor` is all the money on the account,
 * `heldMinor` the part reserved by CREATED payments; the schema keeps
 * 0 <= held <= balance, so available (balance - held) never goes negative.
 */
export interface Account {
  id: string;
  ownerId: string;
  currency: string;
  kind: AccountKind;
  balanceMinor: bigint;
  heldMinor: bigint;
  createdAt: Date;
  updatedAt: Date;
}

export const AccountSchema = new EntitySchema<Account>({
  name: "Account",
  tableName: "accounts",
  properties: {
    id: { type: "uuid", primary: true },
    ownerId: { type: "string", length: 140 },
    currency: { type: "string", length: 3 },
    kind: { type: "string", length: 16 },
    balanceMinor: { type: new BigIntType("bigint") },
    heldMinor: { type: new BigIntType("bigint") },
    createdAt: { type: "datetime", onCreate: () => new Date() },
    updatedAt: { type: "datetime", onCreate: () => new Date(), onUpdate: () => new Date() },
  },
});
