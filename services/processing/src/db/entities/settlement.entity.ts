import { EntitySchema } from "@mikro-orm/core";

/** The first result recorded for a Settle idempotency key. */
export interface Settlement {
  idempotencyKey: string;
  paymentId: string;
  outcome: "APPROVED" | "REJECTED";
  createdAt: Date;
}

export const SettlementSchema = new EntitySchema<Settlement>({
  name: "Settlement",
  tableName: "settlements",
  properties: {
    idempotencyKey: { type: "string", length: 128, primary: true },
    paymentId: { type: "uuid" },
    outcome: { type: "string", length: 16 },
    createdAt: { type: "datetime" },
  },
});
