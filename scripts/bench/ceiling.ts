import type { MikroORM } from "@mikro-orm/postgresql";
import { holdPayment } from "@payments/processing/money/holdPayment";
import { settlePayment } from "@payments/processing/money/settlePayment";
import { percentile } from "./percentile.js";

/** What the direct-SQL run achieved. */
export interface CeilingResult {
  connections: number;
  durationS: number;
  settled: number;
  settledPerS: number;
  /** Milliseconds per Hold + Settle pair, per connection. */
  pairLatencyP50Ms: number;
  pairLatencyP99Ms: number;
  /** Filled in by the caller, which measures around the run. */
  commitsPerPayment?: number;
  postgresCpuMsPerPayment?: number;
  /** When the result is the mean of two runs (see {@link meanCeiling}): each run's settled/s. */
  settledPerSBeforeAndAfter?: [number, number];
}

/**
 * Processing's own Hold and Settle(APPROVED) code (services/processing/src/money/), so the
 * very same SQL in the same transactions, called in-process over a pool of `connections`,
 * each worker running Hold then Settle in a loop. Nothing sits in between: no gRPC, no
 * NATS, no provider, no token checks.
 */
export async function runCeiling(
  orm: MikroORM,
  options: { durationMs: number; payer: (n: number) => string; amountMinor: bigint; serviceId: string; connections: number; keyPrefix: string },
): Promise<CeilingResult> {
  let next = 0;
  let settled = 0;
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + options.durationMs;

  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const n = next++;
      const { payment } = await holdPayment(orm.em, {
        userId: options.payer(n),
        idempotencyKey: `${options.keyPrefix}-${n}`,
        serviceId: options.serviceId,
        details: { mobileTopUp: { phoneNumber: "+14155550123" } },
        amountMinor: options.amountMinor,
        currency: "USD",
      });
      await settlePayment(orm.em, { paymentId: payment.id, idempotencyKey: `settle:${payment.id}`, outcome: "APPROVED" });
      settled++;
      latencies.push(performance.now() - t0);
    }
  };

  await Promise.all(Array.from({ length: options.connections }, worker));
  const durationS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    connections: options.connections,
    durationS,
    settled,
    settledPerS: settled / durationS,
    pairLatencyP50Ms: percentile(latencies, 0.5),
    pairLatencyP99Ms: percentile(latencies, 0.99),
  };
}

/**
 * The mean of ceiling runs taken before and after the closed-loop runs: on a shared machine
 * the ceiling drifts within minutes, and bracketing the maximum compares the two over the
 * same stretch of time.
 */
export function meanCeiling(before: CeilingResult, after: CeilingResult): CeilingResult {
  const mean = (value: (r: CeilingResult) => number) => (value(before) + value(after)) / 2;
  const meanOfKnown = (value: (r: CeilingResult) => number | undefined) =>
    value(before) !== undefined && value(after) !== undefined ? mean((r) => value(r)!) : undefined;
  return {
    connections: before.connections,
    durationS: mean((r) => r.durationS),
    settled: before.settled + after.settled,
    settledPerS: mean((r) => r.settledPerS),
    pairLatencyP50Ms: mean((r) => r.pairLatencyP50Ms),
    pairLatencyP99Ms: mean((r) => r.pairLatencyP99Ms),
    commitsPerPayment: meanOfKnown((r) => r.commitsPerPayment),
    postgresCpuMsPerPayment: meanOfKnown((r) => r.postgresCpuMsPerPayment),
    settledPerSBeforeAndAfter: [before.settledPerS, after.settledPerS],
  };
}
