import { PaymentCreated } from "@payments/contracts/gen/payments/events/v1/payment_events";
import type { PaymentDetails } from "@payments/contracts/gen/payments/v1/payment";

/** A PaymentCreated event with every field the pivot step needs present. */
export interface PaymentToCharge {
  paymentId: string;
  userId: string;
  serviceId: string;
  amountMinor: bigint;
  currency: string;
  details: PaymentDetails;
  /** When the money was held; absent in events from before it was carried. */
  createTime: Date | undefined;
}

/** The message is not a usable PaymentCreated; retrying it can never help. */
export class UndecodableMessageError extends Error {
  override name = "UndecodableMessageError";
  constructor(
    message: string,
    /** The payment id, when the bytes decoded far enough to carry one (for the logs). */
    readonly paymentId?: string,
  ) {
    super(message);
  }
}

/** Decodes and checks a PaymentCreated message; throws {@link UndecodableMessageError}. */
export function decodePaymentCreated(data: Uint8Array): PaymentToCharge {
  let event: PaymentCreated;
  try {
    event = PaymentCreated.decode(data);
  } catch (err) {
    throw new UndecodableMessageError(`not a PaymentCreated protobuf: ${(err as Error).message}`);
  }
  // Arbitrary bytes can decode "successfully" into empty fields, so presence is checked too.
  const missing: string[] = [];
  if (event.paymentId === "") missing.push("payment_id");
  if (event.userId === "") missing.push("user_id");
  if (event.serviceId === "") missing.push("service_id");
  if (event.details?.kind === undefined) missing.push("details");
  if (event.amount === undefined || event.amount.currencyCode === "") missing.push("amount.currency_code");
  if (event.amount === undefined || event.amount.amountMinor <= 0n) missing.push("amount.amount_minor");
  if (missing.length > 0 || !event.details || !event.amount) {
    throw new UndecodableMessageError(`PaymentCreated is missing or has invalid ${missing.join(", ")}`, event.paymentId || undefined);
  }
  return {
    paymentId: event.paymentId,
    userId: event.userId,
    serviceId: event.serviceId,
    amountMinor: event.amount.amountMinor,
    currency: event.amount.currencyCode,
    details: event.details,
    createTime: event.createTime,
  };
}
