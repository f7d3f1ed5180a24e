import { setTimeout as sleep } from "node:timers/promises";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { callUnary } from "@payments/common/grpc/client";
import { isRemoteStatusError, isTransient } from "@payments/common/grpc/errors";
import {
  SettleOutcome,
  type ProcessingServiceClient,
  type SettleRequest,
} from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { RejectReason } from "@payments/contracts/gen/payments/v1/payment";
import { backoffDelayMs } from "../domain/backoff.js";
import type { Delivery } from "../messaging/delivery.js";
import { decodePaymentCreated, UndecodableMessageError, type PaymentToCharge } from "../messaging/paymentCreated.decoder.js";
import { ProviderUnavailableError, type ChargeResult, type PaymentProvider } from "../provider/paymentProvider.js";

/** The settings the pivot step uses. */
export interface PivotSettings {
  retryBaseMs: number;
  retryCapMs: number;
  providerAttempts: number;
  maxDeliver: number;
  settleDeadlineMs: number;
  settleRetryCapMs: number;
}

/** What the pivot step needs; built once and shared by all messages. */
export interface PivotDeps {
  processing: ProcessingServiceClient;
  provider: PaymentProvider;
  settings: PivotSettings;
  log: Logger;
  /** Aborted when shutdown gave up waiting: stop retrying, the message was handed back. */
  signal: AbortSignal;
}

/** How a payment is to be settled, and why (for the logs). */
interface Decision {
  request: SettleRequest;
  provider: ChargeResult | { outcome: "NOT_FOUND" };
}

/**
 * The pivot step for one delivery of PaymentCreated: charge the provider (idempotently, the
 * payment id is the key), then settle the outcome at Processing and only then ack. Every
 * path ends in exactly one ack, nak or term, unless shutdown handed the message back first.
 */
export async function handlePaymentCreated(delivery: Delivery, deps: PivotDeps): Promise<void> {
  let payment: PaymentToCharge;
  try {
    payment = decodePaymentCreated(delivery.data);
  } catch (err) {
    // Poison: a redelivery would fail the same way, forever.
    const paymentId = err instanceof UndecodableMessageError ? err.paymentId : undefined;
    deps.log.error({ err, paymentId, streamSequence: delivery.streamSequence, deliveryCount: delivery.deliveryCount }, "undecodable PaymentCreated message terminated");
    delivery.term();
    return;
  }
  const log = deps.log.child({ paymentId: payment.paymentId });
  log.debug({ deliveryCount: delivery.deliveryCount }, "handling PaymentCreated");

  const decision = await decide(payment, delivery, deps, log);
  if (!decision || deps.signal.aborted) return;
  await settle(payment, decision, delivery, deps, log);
}

/** Charges the provider, or asks it what happened; undefined when the message was handed back for later. */
async function decide(payment: PaymentToCharge, delivery: Delivery, deps: PivotDeps, log: Logger): Promise<Decision | undefined> {
  const idempotencyKey = payment.paymentId;
  try {
    const result = await deps.provider.charge({
      paymentId: payment.paymentId,
      idempotencyKey,
      amountMinor: payment.amountMinor,
      currency: payment.currency,
      serviceId: payment.serviceId,
      details: payment.details,
    });
    return decisionFor(payment.paymentId, result);
  } catch (err) {
    // Whatever went wrong, whether money moved is unknown: only the same key may be retried.
    const level = err instanceof ProviderUnavailableError ? "warn" : "error";
    if (delivery.deliveryCount < deps.settings.providerAttempts) {
      const delayMs = backoffDelayMs(delivery.deliveryCount, deps.settings.retryBaseMs, deps.settings.retryCapMs);
      log[level]({ err, deliveryCount: delivery.deliveryCount, delayMs }, "provider charge failed; retrying later");
      retryLater(delivery, delayMs, deps, log);
      return undefined;
    }
    log[level]({ err, deliveryCount: delivery.deliveryCount }, "provider charge failed too often; asking the provider for the charge's status");
  }

  try {
    const status = await deps.provider.status(idempotencyKey);
    switch (status.outcome) {
      case "NOT_FOUND":
        log.warn({ deliveryCount: delivery.deliveryCount }, "provider confirms no charge was made; rejecting the payment");
        return {
          provider: status,
          request: {
            paymentId: payment.paymentId,
            idempotencyKey: settleKey(payment.paymentId),
            outcome: SettleOutcome.SETTLE_OUTCOME_REJECTED,
            rejectReason: RejectReason.REJECT_REASON_PROVIDER_UNAVAILABLE,
            rejectMessage: "the payment system was unavailable; nothing was charged",
          },
        };
      case "PENDING":
        log.warn({ deliveryCount: delivery.deliveryCount }, "provider is still carrying out the charge; retrying later");
        retryLater(delivery, deps.settings.retryCapMs, deps, log);
        return undefined;
      default:
        return decisionFor(payment.paymentId, status);
    }
  } catch (err) {
    log.error({ err, deliveryCount: delivery.deliveryCount }, "provider status lookup failed; the payment stays pending and is retried later");
    retryLater(delivery, deps.settings.retryCapMs, deps, log);
    return undefined;
  }
}

function decisionFor(paymentId: string, result: ChargeResult): Decision {
  const base = { paymentId, idempotencyKey: settleKey(paymentId) };
  return result.outcome === "APPROVED"
    ? {
        provider: result,
        request: { ...base, outcome: SettleOutcome.SETTLE_OUTCOME_APPROVED, rejectReason: RejectReason.REJECT_REASON_UNSPECIFIED, rejectMessage: "" },
      }
    : {
        provider: result,
        request: { ...base, outcome: SettleOutcome.SETTLE_OUTCOME_REJECTED, rejectReason: RejectReason.REJECT_REASON_DECLINED_BY_PROVIDER, rejectMessage: result.reason },
      };
}

/** One key per payment: however often the message is redelivered, Processing settles it once. */
export function settleKey(paymentId: string): string {
  return `settle:${paymentId}`;
}

/**
 * Settles until it sticks. Transient failures are retried here rather than by redelivery,
 * so the provider's verdict is not asked for again; the message is kept alive meanwhile.
 */
async function settle(payment: PaymentToCharge, decision: Decision, delivery: Delivery, deps: PivotDeps, log: Logger): Promise<void> {
  const outcome = decision.request.outcome === SettleOutcome.SETTLE_OUTCOME_APPROVED ? "APPROVED" : "REJECTED";
  for (let attempt = 1; ; attempt++) {
    if (deps.signal.aborted) return;
    delivery.working();
    try {
      const response = await callUnary(deps.processing.settle.bind(deps.processing), decision.request, { deadlineMs: deps.settings.settleDeadlineMs });
      delivery.ack();
      log.info({ outcome, replayed: response.replayed, provider: decision.provider }, "payment settled");
      return;
    } catch (err) {
      if (deps.signal.aborted) return;
      if (isTransient(err)) {
        const delayMs = backoffDelayMs(attempt, deps.settings.retryBaseMs, deps.settings.settleRetryCapMs);
        log.warn({ err, attempt, delayMs }, "settle failed transiently; retrying");
        await sleep(delayMs, undefined, { signal: deps.signal }).catch(() => undefined);
        continue;
      }
      const context = { err, outcome, provider: decision.provider, userId: payment.userId, serviceId: payment.serviceId, amountMinor: String(payment.amountMinor), currency: payment.currency, deliveryCount: delivery.deliveryCount };
      if (isRemoteStatusError(err) && err.code === GrpcStatus.NOT_FOUND) {
        log.error(context, "processing does not know the payment; message terminated");
        delivery.term();
        return;
      }
      if (isRemoteStatusError(err) && err.code === GrpcStatus.FAILED_PRECONDITION) {
        // The payment was already settled the other way (for example its hold expired while
        // the provider approved). Retrying cannot change a terminal payment: this needs a person.
        log.error(context, "payment is already terminal with another outcome; provider outcome NOT applied, needs reconciliation");
        delivery.term();
        return;
      }
      const delayMs = backoffDelayMs(delivery.deliveryCount, deps.settings.retryBaseMs, deps.settings.retryCapMs);
      log.error({ ...context, delayMs }, "settle failed; retrying later");
      retryLater(delivery, delayMs, deps, log);
      return;
    }
  }
}

/** Hands the message back for a later delivery, shouting when the safety net will stop it. */
function retryLater(delivery: Delivery, delayMs: number, deps: PivotDeps, log: Logger): void {
  if (delivery.deliveryCount >= deps.settings.maxDeliver) {
    log.error({ deliveryCount: delivery.deliveryCount, maxDeliver: deps.settings.maxDeliver }, "delivery limit reached: the message will not be redelivered and the payment stays CREATED");
  }
  delivery.nak(delayMs);
}
