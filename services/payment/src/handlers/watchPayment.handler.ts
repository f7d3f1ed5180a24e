import { setTimeout as sleep } from "node:timers/promises";
import type * as grpc from "@grpc/grpc-js";
import { isTransient, unavailable } from "@payments/common/grpc/errors";
import type { Payment } from "@payments/contracts/gen/payments/v1/payment";
import type { WatchPaymentRequest, WatchPaymentResponse } from "@payments/contracts/gen/payments/v1/payment_service";
import type { TraceScope } from "@payments/common/traceScope";
import type { Caller } from "../auth/tokenVerifier.js";
import { validatePaymentId } from "../domain/queries.js";
import { hasChanged, isTerminal } from "../domain/paymentStatus.js";
import type { PaymentServiceDeps } from "./deps.js";

/**
 * Sends the payment's current state, then each change, and returns once it is terminal.
 * Polls Processing every `watchPollMs`; stops as soon as the client cancels. A transient
 * Processing failure after the first read is retried on the next tick rather than ending
 * the stream. `shutdown` ends the watch with UNAVAILABLE so clients reconnect elsewhere.
 */
export async function watchPayment(
  deps: PaymentServiceDeps,
  caller: Caller,
  request: WatchPaymentRequest,
  call: grpc.ServerWritableStream<WatchPaymentRequest, WatchPaymentResponse>,
  shutdown: AbortSignal,
  scope: TraceScope,
): Promise<void> {
  const paymentId = validatePaymentId(request.paymentId);
  const read = async (): Promise<Payment> => {
    const { payment } = await deps.processing.getPayment({ userId: caller.userId, paymentId }, scope.context);
    if (!payment) throw new Error("Processing.GetPayment answered without a payment");
    return payment;
  };

  const stop = new AbortController();
  const onCancel = () => stop.abort();
  call.on("cancelled", onCancel);
  const onShutdown = () => stop.abort();
  shutdown.addEventListener("abort", onShutdown);
  try {
    // The first read fails fast: a watch that never starts should say why.
    let last = await read();
    call.write({ payment: last });
    let failures = 0;
    while (!isTerminal(last.status)) {
      try {
        await sleep(deps.watchPollMs, undefined, { signal: stop.signal });
      } catch {
        if (shutdown.aborted && !call.cancelled) throw unavailable("server is shutting down; watch again");
        return;
      }
      let next: Payment;
      try {
        next = await read();
        failures = 0;
      } catch (err) {
        if (!isTransient(err)) throw err;
        // Log the first failure of a run only, not every tick of an outage.
        if (failures++ === 0) scope.log.warn({ err, paymentId }, "Processing unavailable during watch; retrying");
        continue;
      }
      if (call.cancelled) return;
      if (hasChanged(last, next)) call.write({ payment: next });
      last = next;
    }
  } finally {
    call.off("cancelled", onCancel);
    shutdown.removeEventListener("abort", onShutdown);
  }
}
