import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { decideOutcome, type OutcomeRules } from "../domain/outcomeRules.js";
import { ProviderUnavailableError, type ChargeRequest, type ChargeResult, type ChargeStatus, type PaymentProvider } from "./paymentProvider.js";

/** How the stub behaves. */
export interface StubProviderOptions {
  latencyMs: number;
  latencyJitterMs?: number;
  /** Share (0..1) of calls that fail with ProviderUnavailableError before doing anything. */
  transientFailureRate?: number;
  rules: OutcomeRules;
  /** Source of randomness for jitter and failures; tests may pin it. */
  random?: () => number;
}

/**
 * An in-memory stand-in for the external payment system. Idempotent per key like a real
 * one: a repeated charge returns the first result and charges nothing. It counts real
 * charges and concurrent calls so tests can check "at most once" and "in parallel".
 */
export class StubPaymentProvider implements PaymentProvider {
  private readonly results = new Map<string, ChargeResult>();
  private readonly charges = new Map<string, number>();
  /** Keys the stub said it had no charge for: they may never charge afterwards. */
  private readonly closedKeys = new Set<string>();
  private readonly random: () => number;
  /**
   * References are this prefix (random per stub) and a counter: the stub keeps every result
   * for the life of the process, and a randomUUID() per charge cost ~500 bytes each (V8 keeps
   * it as a tree of small concatenated strings) and a call for entropy.
   */
  private readonly referencePrefix = `stub-${randomBytes(6).toString("hex")}-`;
  private approvedCount = 0;
  private active = 0;
  private maxActive = 0;

  constructor(private readonly options: StubProviderOptions) {
    this.random = options.random ?? Math.random;
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    return this.call(() => {
      const existing = this.results.get(request.idempotencyKey);
      if (existing) return existing;
      let result: ChargeResult;
      if (this.closedKeys.has(request.idempotencyKey)) {
        result = { outcome: "DECLINED", reason: "the payment was cancelled after the provider was unavailable" };
      } else {
        const verdict = decideOutcome(this.options.rules, request);
        result = verdict.outcome === "APPROVED" ? { outcome: "APPROVED", providerReference: `${this.referencePrefix}${++this.approvedCount}` } : verdict;
        if (result.outcome === "APPROVED") this.charges.set(request.idempotencyKey, (this.charges.get(request.idempotencyKey) ?? 0) + 1);
      }
      this.results.set(request.idempotencyKey, result);
      return result;
    });
  }

  async status(idempotencyKey: string): Promise<ChargeStatus> {
    return this.call(() => {
      const existing = this.results.get(idempotencyKey);
      if (existing) return existing;
      this.closedKeys.add(idempotencyKey);
      return { outcome: "NOT_FOUND" };
    });
  }

  /** How many times money was actually taken for this key (0 or 1 unless the stub is broken). */
  chargeCount(idempotencyKey: string): number {
    return this.charges.get(idempotencyKey) ?? 0;
  }

  /** Total number of keys that were charged. */
  get totalCharges(): number {
    let total = 0;
    for (const n of this.charges.values()) total += n;
    return total;
  }

  /** The highest number of calls that were in progress at the same time. */
  get maxConcurrentCalls(): number {
    return this.maxActive;
  }

  private async call<T>(decide: () => T): Promise<T> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      const jitter = Math.floor(this.random() * (this.options.latencyJitterMs ?? 0));
      // No timer for no latency (the benchmark's capacity runs): it would be measured as ours.
      if (this.options.latencyMs + jitter > 0) await sleep(this.options.latencyMs + jitter);
      if (this.random() < (this.options.transientFailureRate ?? 0)) throw new ProviderUnavailableError("stub provider: simulated outage");
      // The lookup and the write happen in one synchronous step, so two concurrent charges
      // with the same key still charge once.
      return decide();
    } finally {
      this.active--;
    }
  }
}
