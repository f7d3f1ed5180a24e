import type { ServiceAccessPolicy } from "@payments/common/grpc/serviceAuth";

/** Fully qualified name of the internal service. */
export const PROCESSING_SERVICE_NAME = "payments.processing.v1.ProcessingService";

/**
 * Which of our services may call which Processing method. Only the gateway (and the
 * operator tool) can settle, i.e. move held money; the public payment service can only
 * hold and read. A method missing here is refused to everyone.
 */
export const processingAccessPolicy: ServiceAccessPolicy = {
  service: PROCESSING_SERVICE_NAME,
  allow: {
    payment: ["Hold", "GetPayment", "ListPayments", "GetAccount"],
    gateway: ["Settle", "ClaimStalePayments", "FlagForReview"],
    ops: ["ListPaymentsUnderReview", "Settle", "GetPayment"],
  },
};

/** The services that call Processing, whose keys it trusts. */
export const processingCallers = Object.keys(processingAccessPolicy.allow);
