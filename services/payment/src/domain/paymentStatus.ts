import { PaymentStatus, type Payment } from "@payments/contracts/gen/payments/v1/payment";

/** APPROVED and REJECTED never change again. */
export function isTerminal(status: PaymentStatus): boolean {
  return status === PaymentStatus.PAYMENT_STATUS_APPROVED || status === PaymentStatus.PAYMENT_STATUS_REJECTED;
}

/** Whether a watcher should be told about `next`, having last seen `previous`. */
export function hasChanged(previous: Payment, next: Payment): boolean {
  return previous.status !== next.status || previous.updateTime?.getTime() !== next.updateTime?.getTime();
}
