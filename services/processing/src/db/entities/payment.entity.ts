import { BigIntType, EntitySchema } from "@mikro-orm/core";

export type PaymentStatusName = "CREATED" | "APPROVED" | "REJECTED";

/** A payment and its hold. The money moves only through the statements in src/money/. */
export interface Payment {
  id: string;
  userId: string;
  idempotencyKey: string;
  /** SHA-256 of the normalised request, to tell a retry from a reuse of the key. */
  requestHash: string;
  payerAccountId: string;
  payeeAccountId: string;
  serviceId: string;
  /** payments.v1.PaymentDetails in its proto JSON form. */
  details: Record<string, unknown>;
  amountMinor: bigint;
  currency: string;
  status: PaymentStatusName;
  rejectReason?: string | null;
  rejectMessage?: string | null;
  createdAt: Date;
  updatedAt: Date;
  resolvedAt?: Date | null;
  /** When the gateway's reconciler last claimed the payment to hand it over again. */
  nudgedAt?: Date | null;
  /** Why the payment is parked for manual review; null when it is not. */
  reviewReason?: string | null;
  /** Since when it is parked; null when it is not. */
  reviewSince?: Date | null;
  /** W3C traceparent of the Hold that created it, to continue its trace on a second hand-over. */
  traceParent?: string | null;
}

export const PaymentSchema = new EntitySchema<Payment>({
  name: "Payment",
  tableName: "payments",
  properties: {
    id: { type: "uuid", primary: true },
    userId: { type: "string", length: 128 },
    idempotencyKey: { type: "string", length: 64 },
    requestHash: { type: "string", length: 64 },
    payerAccountId: { type: "uuid" },
    payeeAccountId: { type: "uuid" },
    serviceId: { type: "string", length: 64 },
    details: { type: "json" },
    amountMinor: { type: new BigIntType("bigint") },
    currency: { type: "string", length: 3 },
    status: { type: "string", length: 16 },
    rejectReason: { type: "string", length: 48, nullable: true },
    rejectMessage: { type: "text", nullable: true },
    createdAt: { type: "datetime" },
    updatedAt: { type: "datetime" },
    resolvedAt: { type: "datetime", nullable: true },
    nudgedAt: { type: "datetime", nullable: true },
    reviewReason: { type: "text", nullable: true },
    reviewSince: { type: "datetime", nullable: true },
    traceParent: { type: "string", length: 55, nullable: true },
  },
});
