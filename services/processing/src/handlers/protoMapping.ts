import {
  PaymentDetails,
  PaymentStatus,
  RejectReason,
  rejectReasonFromJSON,
  type Balance,
  type Payment as PaymentMessage,
} from "@payments/contracts/gen/payments/v1/payment";
import type { PaymentRecord } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import type { Account } from "../db/entities/account.entity.js";
import type { Payment } from "../db/entities/payment.entity.js";

const statusToProto: Record<Payment["status"], PaymentStatus> = {
  CREATED: PaymentStatus.PAYMENT_STATUS_CREATED,
  APPROVED: PaymentStatus.PAYMENT_STATUS_APPROVED,
  REJECTED: PaymentStatus.PAYMENT_STATUS_REJECTED,
};

/** Reject reasons are stored by their enum name without the prefix, e.g. "DECLINED_BY_PROVIDER". */
export function rejectReasonName(reason: RejectReason): string {
  return RejectReason[reason].replace(/^REJECT_REASON_/, "");
}

export function toPaymentMessage(payment: Payment): PaymentMessage {
  return {
    id: payment.id,
    idempotencyKey: payment.idempotencyKey,
    serviceId: payment.serviceId,
    details: PaymentDetails.fromJSON(payment.details),
    amount: { currencyCode: payment.currency, amountMinor: payment.amountMinor },
    status: statusToProto[payment.status],
    rejectReason: payment.rejectReason ? rejectReasonFromJSON(`REJECT_REASON_${payment.rejectReason}`) : RejectReason.REJECT_REASON_UNSPECIFIED,
    rejectMessage: payment.rejectMessage ?? "",
    createTime: payment.createdAt,
    updateTime: payment.updatedAt,
    underReview: payment.reviewSince != null,
  };
}

/** A payment with its owner and review state, for internal callers (gateway, operators). */
export function toPaymentRecord(payment: Payment): PaymentRecord {
  return {
    userId: payment.userId,
    payment: toPaymentMessage(payment),
    reviewReason: payment.reviewReason ?? "",
    reviewTime: payment.reviewSince ?? undefined,
    traceParent: payment.traceParent ?? "",
  };
}

export function toBalance(account: Account): Balance {
  return {
    currencyCode: account.currency,
    totalMinor: account.balanceMinor,
    heldMinor: account.heldMinor,
    availableMinor: account.balanceMinor - account.heldMinor,
  };
}
