import { setTimeout as sleep } from "node:timers/promises";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import type { Logger } from "pino";
import { crashPoint } from "@payments/common/crashPoints";
import { callUnary } from "@payments/common/grpc/client";
import { isRemoteStatusError, isTransient } from "@payments/common/grpc/errors";
import { loggerInTrace } from "@payments/common/logger";
import { SpanKind, withSpan } from "@payments/common/tracing";
import { TraceScope } from "@payments/common/traceScope";
import {
  SettleOutcome,
  type ProcessingServiceClient,
  type SettleRequest,
} from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { RejectReason } from "@payments/contracts/gen/payments/v1/payment";
import { backoffDelayMs } from "../domain/backoff.js";
import { providerCalls } from "../metrics.js";
import type { Delivery } from "../messaging/delivery.js";
import type { ProcessingSlots } from "../messaging/processingSlots.js";
import { decodePaymentCreated, UndecodableMessageError, type PaymentToCharge } from "../messaging/paymentCreated.decoder.js";
import { ProviderUnavailableError, type ChargeResult, type ChargeStatus, type PaymentProvider } from "../provider/paymentProvider.js";

/** The settings the pivot step uses. */
export interface PivotSettings {
  retryBaseMs: number;
  retryCapMs: number;
  /** Failed charge deliveries before the provider is asked for the charge's status instead. */
  providerAttempts: number;
  /** Status lookups that leave the outcome unknown before the payment is parked for review. */
  statusAttempts: number;
  maxDeliver: number;
  settleDeadlineMs: number;
  settleRetryCapMs: number;
  /** A hold older than this is not charged any more, only resolved by the provider's status. */
  holdTtlMs: number;
}

/** What the pivot step needs; built once and shared by all messages. */
export interface PivotDeps {
  processing: ProcessingServiceClient;
  provider: PaymentProvider;
  /** Bounds the calls to Processing in flight, shared by all messages. */
  processingSlots: ProcessingSlots;
  settings: PivotSettings;
  log: Logger;
  /** Aborted when shutdown gave up waiting: stop retrying, the message was handed back. */
  signal: AbortSignal;
  /** The clock, so tests can move it. */
  now?: () => number;
}

/** How a payment is to be settled, and why (for the logs). */
interface SettleDecision {
  kind: "settle";
  request: SettleRequest;
  provider: ChargeStatus;
}

/** The provider's answer stayed unknown past the budget: a person has to look. */
interface ParkDecision {
  kind: "park";
  reason: string;
}

type Decision = SettleDecision | ParkDecision;

/**
 * The pivot step for one delivery of PaymentCreated: charge the provider (idempotently, the
 * payment id is the key), then settle the outcome at Processing and only then ack. A hold past
 * its TTL is not charged: the provider's status decides. When the outcome stays unknown after
 * the retry budget the payment is parked for manual review. Every path ends in exactly one
 * ack, nak or term, unless shutdown handed the message back first. The calls to the provider
 * and to Processing continue `trace`, the context of the message's consume.
 */
export async function handlePaymentCreated(delivery: Delivery, deps: PivotDeps, trace: Context): Promise<void> {
  let payment: PaymentToCharge;
  try {
    payment = decodePaymentCreated(delivery.data);
  } catch (err) {
    // Poison: a redelivery would fail the same way, forever.
    const paymentId = err instanceof UndecodableMessageError ? err.paymentId : undefined;
    loggerInTrace(deps.log, trace).error({ err, paymentId, streamSequence: delivery.streamSequence, deliveryCount: delivery.deliveryCount }, "undecodable PaymentCreated message terminated");
    delivery.term();
    return;
  }
  const scope = new TraceScope(trace, deps.log, { paymentId: payment.paymentId });
  scope.span?.setAttribute("payment.id", payment.paymentId);
  scope.log.debug({ deliveryCount: delivery.deliveryCount }, "handling PaymentCreated");

  const now = deps.now?.() ?? Date.now();
  const expired = payment.createTime !== undefined && payment.createTime.getTime() + deps.settings.holdTtlMs <= now;
  const decision = expired ? await decideExpired(payment, delivery, deps, scope) : await decide(payment, delivery, deps, scope);
  if (!decision || deps.signal.aborted) return;
  if (decision.kind === "park") {
    await park(payment, decision.reason, delivery, deps, scope);
    return;
  }
  crashPoint("gateway.after-charge");
  await settle(payment, decision, delivery, deps, scope);
}

/** Charges the provider, or asks it what happened; undefined when the message was handed back for later. */
async function decide(payment: PaymentToCharge, delivery: Delivery, deps: PivotDeps, scope: TraceScope): Promise<Decision | undefined> {
  const { log } = scope;
  try {
    const result = await providerCall("charge", payment.paymentId, scope.context, () =>
      deps.provider.charge({
        paymentId: payment.paymentId,
        idempotencyKey: payment.paymentId,
        amountMinor: payment.amountMinor,
        currency: payment.currency,
        serviceId: payment.serviceId,
        details: payment.details,
      }),
    );
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
  const lookup = delivery.deliveryCount - deps.settings.providerAttempts + 1;
  return decideByStatus(payment, lookup, delivery, deps, scope, {
    rejectReason: RejectReason.REJECT_REASON_PROVIDER_UNAVAILABLE,
    rejectMessage: "the payment system was unavailable; nothing was charged",
  });
}

/**
 * The hold is past its TTL: charging now could capture money the payer no longer expects to
 * pay, so only an existing charge is honoured. The provider's NOT_FOUND is final (the key is
 * refused from then on), so a charge still on its way can never land after the release.
 */
async function decideExpired(payment: PaymentToCharge, delivery: Delivery, deps: PivotDeps, scope: TraceScope): Promise<Decision | undefined> {
  scope.log.warn({ createTime: payment.createTime, holdTtlMs: deps.settings.holdTtlMs, deliveryCount: delivery.deliveryCount }, "hold expired; not charging, asking the provider for the charge's status");
  return decideByStatus(payment, delivery.deliveryCount, delivery, deps, scope, {
    rejectReason: RejectReason.REJECT_REASON_HOLD_EXPIRED,
    rejectMessage: "the payment was not carried out before its hold expired; nothing was charged",
  });
}

/**
 * Resolves the payment by the provider's status: charged or declined settles accordingly,
 * not found rejects it with `notCharged`. Pending or unreachable retries later, and parks the
 * payment once `lookup` (1-based) reaches the status budget.
 */
async function decideByStatus(
  payment: PaymentToCharge,
  lookup: number,
  delivery: Delivery,
  deps: PivotDeps,
  scope: TraceScope,
  notCharged: { rejectReason: RejectReason; rejectMessage: string },
): Promise<Decision | undefined> {
  const { log } = scope;
  let unknown: string;
  try {
    const status = await providerCall("status", payment.paymentId, scope.context, () => deps.provider.status(payment.paymentId));
    switch (status.outcome) {
      case "NOT_FOUND":
        log.warn({ deliveryCount: delivery.deliveryCount, rejectReason: RejectReason[notCharged.rejectReason] }, "provider confirms no charge was made; rejecting the payment");
        return { kind: "settle", provider: status, request: settleRequest(payment.paymentId, SettleOutcome.SETTLE_OUTCOME_REJECTED, notCharged.rejectReason, notCharged.rejectMessage) };
      case "PENDING":
        unknown = "the payment system is still carrying out the charge";
        log.warn({ deliveryCount: delivery.deliveryCount, lookup }, "provider is still carrying out the charge");
        break;
      default:
        return decisionFor(payment.paymentId, status);
    }
  } catch (err) {
    unknown = "the payment system could not be reached to confirm whether it charged";
    log.error({ err, deliveryCount: delivery.deliveryCount, lookup }, "provider status lookup failed");
  }
  if (lookup < deps.settings.statusAttempts) {
    retryLater(delivery, backoffDelayMs(delivery.deliveryCount, deps.settings.retryBaseMs, deps.settings.retryCapMs), deps, log);
    return undefined;
  }
  return { kind: "park", reason: `${unknown} (after ${delivery.deliveryCount} deliveries)` };
}

function decisionFor(paymentId: string, result: ChargeResult): SettleDecision {
  return result.outcome === "APPROVED"
    ? { kind: "settle", provider: result, request: settleRequest(paymentId, SettleOutcome.SETTLE_OUTCOME_APPROVED, RejectReason.REJECT_REASON_UNSPECIFIED, "") }
    : { kind: "settle", provider: result, request: settleRequest(paymentId, SettleOutcome.SETTLE_OUTCOME_REJECTED, RejectReason.REJECT_REASON_DECLINED_BY_PROVIDER, result.reason) };
}

function settleRequest(paymentId: string, outcome: SettleOutcome, rejectReason: RejectReason, rejectMessage: string): SettleRequest {
  return { paymentId, idempotencyKey: settleKey(paymentId), outcome, rejectReason, rejectMessage, requireUnderReview: false, note: "" };
}

/** Calls the provider in a CLIENT span, child of `parent`, counting the call by its result. */
async function providerCall<R extends { outcome: string }>(call: "charge" | "status", paymentId: string, parent: Context, fn: () => Promise<R>): Promise<R> {
  return withSpan(`provider ${call}`, { kind: SpanKind.CLIENT, attributes: { "payment.id": paymentId }, parent }, async (span) => {
    try {
      const result = await fn();
      span.setAttribute("provider.outcome", result.outcome);
      providerCalls.inc({ call, result: result.outcome });
      return result;
    } catch (err) {
      providerCalls.inc({ call, result: "error" });
      throw err;
    }
  });
}

/** One key per payment: however often the message is redelivered, Processing settles it once. */
export function settleKey(paymentId: string): string {
  return `settle:${paymentId}`;
}

/**
 * Settles until it sticks. Transient failures are retried here rather than by redelivery,
 * so the provider's verdict is not asked for again; the message is kept alive meanwhile. An
 * APPROVED verdict is only ever retried as APPROVED, never turned into a release.
 */
async function settle(payment: PaymentToCharge, decision: SettleDecision, delivery: Delivery, deps: PivotDeps, scope: TraceScope): Promise<void> {
  const outcome = decision.request.outcome === SettleOutcome.SETTLE_OUTCOME_APPROVED ? "APPROVED" : "REJECTED";
  await untilItSticks(
    "settle",
    () => callUnary(deps.processing.settle.bind(deps.processing), decision.request, { deadlineMs: deps.settings.settleDeadlineMs, trace: scope.context }),
    (response) => {
      crashPoint("gateway.after-settle");
      delivery.ack();
      scope.log.info({ outcome, replayed: response.replayed, provider: decision.provider }, "payment settled");
    },
    { payment, delivery, deps, scope, context: { outcome, provider: decision.provider } },
  );
}

/** Parks the payment for manual review at Processing, then acks: retrying cannot decide it. */
async function park(payment: PaymentToCharge, reason: string, delivery: Delivery, deps: PivotDeps, scope: TraceScope): Promise<void> {
  const { log } = scope;
  await untilItSticks(
    "flag for review",
    () => callUnary(deps.processing.flagForReview.bind(deps.processing), { paymentId: payment.paymentId, reason }, { deadlineMs: deps.settings.settleDeadlineMs, trace: scope.context }),
    (response) => {
      delivery.ack();
      if (response.flagged) log.error({ reason, deliveryCount: delivery.deliveryCount }, "payment parked for manual review: the provider's outcome is unknown; resolve with `npm run ops -- review resolve`");
      else log.warn({ reason }, "payment was already resolved; nothing to park");
    },
    { payment, delivery, deps, scope, context: { parkReason: reason } },
  );
}

/**
 * Calls Processing until the call succeeds, then runs `done` (which answers the message).
 * Transient failures are retried in process with backoff; NOT_FOUND (unknown payment) and
 * FAILED_PRECONDITION (already terminal the other way) terminate the message, loudly; any
 * other failure hands the message back for a later delivery.
 */
async function untilItSticks<Res>(
  what: string,
  call: () => Promise<Res>,
  done: (response: Res) => void,
  ctx: { payment: PaymentToCharge; delivery: Delivery; deps: PivotDeps; scope: TraceScope; context: Record<string, unknown> },
): Promise<void> {
  const { payment, delivery, deps } = ctx;
  const { log } = ctx.scope;
  for (let attempt = 1; ; attempt++) {
    if (deps.signal.aborted) return;
    try {
      done(await deps.processingSlots.run(delivery, deps.settings.settleDeadlineMs, call, deps.signal));
      return;
    } catch (err) {
      if (deps.signal.aborted) return;
      if (isTransient(err)) {
        const delayMs = backoffDelayMs(attempt, deps.settings.retryBaseMs, deps.settings.settleRetryCapMs);
        log.warn({ err, attempt, delayMs }, `${what} failed transiently; retrying`);
        await sleep(delayMs, undefined, { signal: deps.signal }).catch(() => undefined);
        continue;
      }
      const context = { err, ...ctx.context, userId: payment.userId, serviceId: payment.serviceId, amountMinor: String(payment.amountMinor), currency: payment.currency, deliveryCount: delivery.deliveryCount };
      if (isRemoteStatusError(err) && err.code === GrpcStatus.NOT_FOUND) {
        log.error(context, `${what}: processing does not know the payment; message terminated`);
        delivery.term();
        return;
      }
      if (isRemoteStatusError(err) && err.code === GrpcStatus.FAILED_PRECONDITION) {
        // The payment was already resolved the other way (an operator resolved it while the
        // provider answered). Retrying cannot change a terminal payment: this needs a person.
        log.error(context, `${what}: payment is already terminal with another outcome; provider outcome NOT applied, needs reconciliation`);
        delivery.term();
        return;
      }
      const delayMs = backoffDelayMs(delivery.deliveryCount, deps.settings.retryBaseMs, deps.settings.retryCapMs);
      log.error({ ...context, delayMs }, `${what} failed; retrying later`);
      retryLater(delivery, delayMs, deps, log);
      return;
    }
  }
}

/** Hands the message back for a later delivery, shouting when the safety net will stop it. */
function retryLater(delivery: Delivery, delayMs: number, deps: PivotDeps, log: Logger): void {
  if (delivery.deliveryCount >= deps.settings.maxDeliver) {
    log.error({ deliveryCount: delivery.deliveryCount, maxDeliver: deps.settings.maxDeliver }, "delivery limit reached: the payment stays CREATED until the reconciler hands it over again");
  }
  delivery.nak(delayMs);
}
