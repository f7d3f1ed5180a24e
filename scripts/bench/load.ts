import { setTimeout as sleep } from "node:timers/promises";
import { status, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { callUnary } from "@payments/common/grpc/client";
import type { CreatePaymentRequest, PaymentServiceClient } from "@payments/contracts/gen/payments/v1/payment_service";
import { percentile } from "./percentile.js";
import { slowCalls, type SlowCalls } from "./slowCalls.js";

/** The `CreatePayment` p99 objective at half the maximum: calls slower than this count as slow. */
export const P99_OBJECTIVE_MS = 20;

/** Where and as whom payments are created. */
export interface LoadTarget {
  /** One per gRPC channel; calls are spread round-robin. */
  clients: PaymentServiceClient[];
  /** Authorization metadata of the payer of the `n`-th payment. */
  metadataFor(n: number): Metadata;
  amountMinor: bigint;
  deadlineMs: number;
}

/** What one load run saw from the client side. */
export interface LoadResult {
  mode: "open" | "closed";
  /** Open loop: the arrival rate asked for. */
  offeredPerS?: number;
  /** Closed loop: callers each waiting for their answer before the next call. */
  concurrency?: number;
  /** Prefix of every idempotency key of the run, to find its payments in the database. */
  runKey: string;
  durationS: number;
  sent: number;
  accepted: number;
  acceptedPerS: number;
  /** Failed calls by gRPC status name. */
  errors: Record<string, number>;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  /** Open loop: how late calls were sent after their due time (the load generator's own delay, part of the latency above). */
  sendLagMs?: { p50: number; p99: number; max: number };
  /** Calls slower than the p99 objective, and how many of them fell within one second. */
  slowCalls: SlowCalls;
}

/** Counters a sampler may read while a run is going. */
export interface LiveCounters {
  sent: number;
  accepted: number;
}

function requestFor(runKey: string, n: number, amountMinor: bigint): CreatePaymentRequest {
  return {
    idempotencyKey: `${runKey}-${n}`,
    serviceId: "mobile-top-up",
    details: { kind: { $case: "mobileTopUp", value: { phoneNumber: "+14155550123" } } },
    amount: { currencyCode: "USD", amountMinor },
  };
}

class Recorder {
  readonly latencies: number[] = [];
  /** When each call was due (sent, in the closed loop), in ms from the run's start. */
  readonly dueAt: number[] = [];
  readonly errors: Record<string, number> = {};
  constructor(
    readonly live: LiveCounters,
    readonly runStarted: number,
  ) {}

  async call(target: LoadTarget, runKey: string, n: number, startedAt: number): Promise<void> {
    const client = target.clients[n % target.clients.length]!;
    this.live.sent++;
    try {
      await callUnary(client.createPayment.bind(client), requestFor(runKey, n, target.amountMinor), {
        metadata: target.metadataFor(n),
        deadlineMs: target.deadlineMs,
      });
      this.live.accepted++;
    } catch (err) {
      const code = (err as ServiceError).code;
      const name = typeof code === "number" ? (status[code] ?? String(code)) : "CLIENT_ERROR";
      this.errors[name] = (this.errors[name] ?? 0) + 1;
    }
    // Failures count too: a slow error is as slow for the caller as a slow success.
    this.latencies.push(performance.now() - startedAt);
    this.dueAt.push(startedAt - this.runStarted);
  }

  result(base: Pick<LoadResult, "mode" | "offeredPerS" | "concurrency" | "runKey">, durationS: number): LoadResult {
    const sorted = Float64Array.from(this.latencies).sort();
    return {
      ...base,
      durationS,
      sent: this.live.sent,
      accepted: this.live.accepted,
      acceptedPerS: this.live.accepted / durationS,
      errors: this.errors,
      latencyMs: {
        p50: percentile(sorted, 0.5),
        p95: percentile(sorted, 0.95),
        p99: percentile(sorted, 0.99),
        max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
      },
      slowCalls: slowCalls(this.dueAt, this.latencies, P99_OBJECTIVE_MS),
    };
  }
}

/**
 * Open loop: the `n`-th payment is due at start + n / rate whatever happened to the
 * earlier ones, and its latency is measured from that due time, not from when the call
 * could actually be sent: a stall in the system (or in this process) shows up in the
 * percentiles instead of quietly lowering the rate (no coordinated omission).
 */
export async function runOpenLoop(target: LoadTarget, runKey: string, ratePerS: number, durationMs: number, live: LiveCounters): Promise<LoadResult> {
  const started = performance.now();
  const recorder = new Recorder(live, started);
  const total = Math.max(1, Math.round((ratePerS * durationMs) / 1000));
  const intervalMs = 1000 / ratePerS;
  const inFlight = new Set<Promise<void>>();
  const lags = new Float64Array(total);
  let n = 0;
  while (n < total) {
    const now = performance.now();
    for (; n < total && started + n * intervalMs <= now; n++) {
      lags[n] = now - (started + n * intervalMs);
      const call = recorder.call(target, runKey, n, started + n * intervalMs);
      inFlight.add(call);
      void call.finally(() => inFlight.delete(call));
    }
    if (n < total) await sleep(Math.max(0, started + n * intervalMs - performance.now()));
  }
  const sendWindowS = (performance.now() - started) / 1000;
  await Promise.all(inFlight);
  lags.sort();
  return {
    ...recorder.result({ mode: "open", offeredPerS: ratePerS, runKey }, Math.max(sendWindowS, durationMs / 1000)),
    sendLagMs: { p50: percentile(lags, 0.5), p99: percentile(lags, 0.99), max: lags[lags.length - 1] ?? Number.NaN },
  };
}

/** Closed loop: `concurrency` callers, each sending its next payment once the last is answered. */
export async function runClosedLoop(target: LoadTarget, runKey: string, concurrency: number, durationMs: number, live: LiveCounters): Promise<LoadResult> {
  const started = performance.now();
  const recorder = new Recorder(live, started);
  const deadline = started + durationMs;
  let n = 0;
  const caller = async () => {
    while (performance.now() < deadline) await recorder.call(target, runKey, n++, performance.now());
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  return recorder.result({ mode: "closed", concurrency, runKey }, (performance.now() - started) / 1000);
}
