import { Counter } from "prom-client";

/** Payments accepted (held) by CreatePayment; an idempotent replay is not counted again. */
export const paymentsCreated = new Counter({
  name: "payments_created_total",
  help: "Payments created (money held), by catalog service and currency",
  labelNames: ["service_id", "currency"] as const,
});
