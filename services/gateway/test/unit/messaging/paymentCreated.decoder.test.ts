import { expect } from "chai";
import { PaymentCreated } from "@payments/contracts/gen/payments/events/v1/payment_events";
import { decodePaymentCreated, UndecodableMessageError } from "../../../src/messaging/paymentCreated.decoder.js";

const valid: PaymentCreated = {
  paymentId: "p1",
  userId: "u1",
  serviceId: "mobile-top-up",
  details: { kind: { $case: "mobileTopUp", value: { phoneNumber: "+14155550123" } } },
  amount: { currencyCode: "USD", amountMinor: 1_500n },
  createTime: new Date(),
};

describe("decodePaymentCreated", () => {
  it("decodes a complete event", () => {
    const payment = decodePaymentCreated(PaymentCreated.encode(valid).finish());
    expect(payment).to.deep.include({ paymentId: "p1", userId: "u1", amountMinor: 1_500n, currency: "USD" });
  });

  it("rejects bytes that are not a PaymentCreated", () => {
    expect(() => decodePaymentCreated(new TextEncoder().encode("this is not protobuf"))).to.throw(UndecodableMessageError);
  });

  it("rejects an event without amount or details", () => {
    expect(() => decodePaymentCreated(PaymentCreated.encode({ ...valid, amount: undefined }).finish())).to.throw(UndecodableMessageError, /amount/);
    expect(() => decodePaymentCreated(PaymentCreated.encode({ ...valid, details: undefined }).finish())).to.throw(UndecodableMessageError, /details/);
    expect(() => decodePaymentCreated(PaymentCreated.encode({ ...valid, paymentId: "" }).finish())).to.throw(UndecodableMessageError, /payment_id/);
  });
});
