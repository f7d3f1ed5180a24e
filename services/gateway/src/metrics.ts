import { Counter, Gauge } from "prom-client";

/** Deliveries of a message that had been delivered before (msg.info.deliveryCount > 1). */
export const redeliveries = new Counter({
  name: "gateway_redeliveries_total",
  help: "PaymentCreated messages delivered again (a retry, a crash, an ack wait that ran out)",
});

/** Messages of the durable consumer not yet acknowledged: pending plus delivered-unacked. */
export const consumerLag = new Gauge({
  name: "gateway_consumer_lag",
  help: "Messages the durable consumer has not had acknowledged yet (num_pending + num_ack_pending)",
  labelNames: ["stream", "consumer"] as const,
});

/** Provider calls by kind (charge, status) and result. */
export const providerCalls = new Counter({
  name: "gateway_provider_calls_total",
  help: "Calls to the payment provider, by call and result (APPROVED, DECLINED, NOT_FOUND, PENDING, error)",
  labelNames: ["call", "result"] as const,
});
