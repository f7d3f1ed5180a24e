import type { Context } from "@opentelemetry/api";
import type { Logger } from "@payments/common/logger";
import type { PaymentCreated } from "@payments/contracts/gen/payments/events/v1/payment_events";
import type { TokenVerifier } from "../auth/tokenVerifier.js";
import type { ProcessingApi } from "../clients/processing.client.js";

/** What the handlers need from the outside world; main.ts builds them, tests build their own. */
export interface PaymentServiceDeps {
  processing: ProcessingApi;
  /** Takes a held payment to the stream in the background, continuing `trace`; must not throw. */
  handOver: { handOver(event: PaymentCreated, trace: Context): void };
  verifier: TokenVerifier;
  /** How often WatchPayment polls Processing, in milliseconds. */
  watchPollMs: number;
  log: Logger;
}
