import type { TraceScope } from "@payments/common/traceScope";
import { crashPoint, crashPointAfterFlush } from "@payments/common/crashPoints";
import type { CreatePaymentRequest, CreatePaymentResponse } from "@payments/contracts/gen/payments/v1/payment_service";
import { PaymentStatus } from "@payments/contracts/gen/payments/v1/payment";
import type { Caller } from "../auth/tokenVerifier.js";
import { validateCreatePayment } from "../domain/createPayment.validation.js";
import type { PaymentServiceDeps } from "./deps.js";
import { paymentsCreated } from "../metrics.js";

/**
 * Validates, holds the money through Processing, and answers with the CREATED payment.
 * The hand-over to the stream starts after the reply is on its way; an idempotent replay
 * of a payment still CREATED is handed over again (the stream drops the duplicate), so a
 * client retry repairs a hand-over that was lost.
 */
export async function createPayment(deps: PaymentServiceDeps, caller: Caller, request: CreatePaymentRequest, scope: TraceScope): Promise<CreatePaymentResponse> {
  const valid = validateCreatePayment(request);
  const held = await deps.processing.hold({ userId: caller.userId, ...valid }, scope.context);
  const payment = held.payment;
  if (!payment) throw new Error("Processing.Hold answered without a payment");
  scope.span?.setAttribute("payment.id", payment.id);
  if (!held.replayed) paymentsCreated.inc({ service_id: payment.serviceId, currency: payment.amount?.currencyCode ?? valid.amount.currencyCode });
  scope.log.info({ paymentId: payment.id, userId: caller.userId, replayed: held.replayed, status: payment.status }, "payment held");
  crashPoint("payment.after-hold");

  // A payment parked for review waits for an operator: a client's retry must not send it
  // to the provider again.
  if (payment.status === PaymentStatus.PAYMENT_STATUS_CREATED && !payment.underReview) {
    const event = {
      paymentId: payment.id,
      userId: caller.userId,
      serviceId: payment.serviceId,
      details: payment.details ?? valid.details,
      amount: payment.amount ?? valid.amount,
      createTime: payment.createTime,
    };
    // setImmediate: the unary callback runs first, so the client never waits for the broker.
    setImmediate(() => {
      void crashPointAfterFlush("payment.before-publish").then(() => deps.handOver.handOver(event, scope.context));
    });
  }
  return { payment };
}
