import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { MikroORM, type EntityManager } from "@mikro-orm/postgresql";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { expect } from "chai";
import { loadOrCreateDevKeys, type DevKeys } from "@payments/common/auth/devKeys";
import { signDevToken } from "@payments/common/auth/devToken";
import { callUnary } from "@payments/common/grpc/client";
import { PaymentCreated } from "@payments/contracts/gen/payments/events/v1/payment_events";
import type { Payment } from "@payments/contracts/gen/payments/v1/payment";
import { PaymentServiceClient, type CreatePaymentRequest } from "@payments/contracts/gen/payments/v1/payment_service";
import { Cluster, type ClusterOptions } from "../../scripts/lib/cluster.js";
import { formatInvariantReport, hasProviderCharges, providerChargedPayments, runInvariantReport } from "../../scripts/lib/invariantReport.js";
import { createOrmConfig } from "../../services/processing/src/db/mikro-orm.config.js";
import { deposit, openAccount } from "../../services/processing/src/money/deposit.js";
import { query } from "../../services/processing/src/money/sql.js";
export { topUp } from "./requests.js";

/** gRPC codes after which a client retries the same request with the same key. */
const RETRYABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.ABORTED]);

/** Reconnect fast to a restarted service instead of grpc-js's default backoff of up to two minutes. */
const CHANNEL_OPTIONS = { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 1_000 };

/** Waits until `condition` returns a truthy value, polling; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, condition: () => Promise<T | undefined | false>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ""}`);
    await sleep(intervalMs);
  }
}

/**
 * The whole system for fault tests: a {@link Cluster} (own NATS and PostgreSQL, services as
 * processes that can be killed, frozen and restarted) plus what a test needs to drive and
 * judge it: tokens, money, CreatePayment with client retries, quiescence, invariants, and
 * the provider's charges.
 */
export class FaultSystem {
  private readonly clients = new Map<string, PaymentServiceClient>();
  private orm?: MikroORM;
  private keys?: DevKeys;

  private constructor(
    readonly cluster: Cluster,
    private readonly logs: string[],
  ) {}

  static async start(options: ClusterOptions = {}): Promise<FaultSystem> {
    const logs: string[] = [];
    let cluster: Cluster;
    try {
      cluster = await Cluster.start({
        ...options,
        onLine: (component, line) => {
          logs.push(`[${component}] ${line}`);
          if (logs.length > 5_000) logs.shift();
        },
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${logs.slice(-60).join("\n")}`);
    }
    const system = new FaultSystem(cluster, logs);
    system.keys = await loadOrCreateDevKeys(cluster.devKeysDir);
    system.orm = await MikroORM.init(createOrmConfig({ databaseUrl: cluster.databaseUrl, poolMax: 4 }));
    return system;
  }

  /** A public-API client of one Payment instance (the first by default). */
  paymentClient(instance = "payment"): PaymentServiceClient {
    let client = this.clients.get(instance);
    if (!client) {
      client = new PaymentServiceClient(this.cluster.address(instance), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.clients.set(instance, client);
    }
    return client;
  }

  async auth(userId: string): Promise<grpc.Metadata> {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${await signDevToken(this.keys!, userId)}`);
    return metadata;
  }

  /** CreatePayment once; throws the gRPC error. */
  async createOnce(userId: string, request: CreatePaymentRequest, instance = "payment"): Promise<Payment> {
    const client = this.paymentClient(instance);
    return (await callUnary(client.createPayment.bind(client), request, { metadata: await this.auth(userId), deadlineMs: 10_000 })).payment!;
  }

  /**
   * CreatePayment as a well-behaved client does it: on UNAVAILABLE, DEADLINE_EXCEEDED or
   * ABORTED it retries the same request (same key) until `timeoutMs`. Other errors are thrown.
   */
  async create(userId: string, request: CreatePaymentRequest, options: { timeoutMs?: number; instance?: string } = {}): Promise<Payment> {
    const deadline = Date.now() + (options.timeoutMs ?? 90_000);
    for (;;) {
      try {
        return await this.createOnce(userId, request, options.instance);
      } catch (err) {
        const code = (err as grpc.ServiceError).code;
        if (!RETRYABLE.has(code) || Date.now() > deadline) throw err;
        await sleep(250);
      }
    }
  }

  em(): EntityManager {
    if (!this.orm) throw new Error("the system is not started");
    return this.orm.em.fork();
  }

  /** Runs a query, retrying while PostgreSQL is down or restarting. */
  async sql<Row = Record<string, unknown>>(text: string, params: unknown[] = [], timeoutMs = 60_000): Promise<Row[]> {
    return waitFor(`query ${text.slice(0, 40)}`, async () => query<Row>(this.em(), text, params), timeoutMs);
  }

  /** Opens `userId`'s account in `currency` and deposits `amountMinor`. */
  async fund(userId: string, currency: string, amountMinor: bigint): Promise<void> {
    const em = this.em();
    const accountId = await openAccount(em, userId, currency, "USER");
    await deposit(em, accountId, amountMinor, currency, `test:${userId}:${currency}:${Math.random().toString(36).slice(2)}`);
  }

  /** A user's payments with their status and ledger, oldest first. */
  async paymentsOf(userId: string): Promise<Array<{ id: string; status: string; idempotency_key: string; review_reason: string | null; kinds: string }>> {
    return this.sql(
      `select p.id, p.status, p.idempotency_key, to_jsonb(p) ->> 'review_reason' as review_reason,
              coalesce((select string_agg(kind, ',' order by kind) from ledger_entries l where l.payment_id = p.id), '') as kinds
       from payments p where p.user_id = ? order by p.created_at`,
      [userId],
    );
  }

  async statusOf(paymentId: string): Promise<string> {
    const [row] = await this.sql<{ status: string }>("select status from payments where id = ?", [paymentId]);
    return row!.status;
  }

  /**
   * Waits until no payment is CREATED, except those parked for manual review (the saga's
   * last word when the provider cannot tell what happened). Fails after `timeoutMs`.
   */
  async waitQuiescent(timeoutMs = 90_000): Promise<void> {
    let left: unknown[] = [];
    try {
      await waitFor(
        "every payment terminal or parked",
        async () => {
          left = await query(this.em(), "select id from payments p where status = 'CREATED' and to_jsonb(p) ->> 'review_reason' is null");
          return left.length === 0;
        },
        timeoutMs,
        300,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; still CREATED: ${JSON.stringify(left.slice(0, 10))}`);
    }
  }

  /**
   * The end of every scenario: the system quiesces, every money invariant holds (and, with
   * the PostgreSQL-backed provider stub, each payment was charged at most once and exactly
   * when APPROVED), and no payment is left CREATED unless parked for review.
   */
  async expectSound(timeoutMs = 90_000): Promise<void> {
    await this.waitQuiescent(timeoutMs);
    const report = await runInvariantReport(this.em(), { pendingOlderThanMs: 0 });
    expect(report.ok, formatInvariantReport(report)).to.equal(true);
  }

  /** Times the provider charged each payment; undefined while the stub keeps no table (in-memory stub). */
  async providerCharges(): Promise<Map<string, number> | undefined> {
    if (!(await hasProviderCharges(this.em()))) return undefined;
    return providerChargedPayments(this.em());
  }

  /** Asserts the provider charged `paymentId` exactly `times`, when the stub can tell. */
  async expectCharged(paymentId: string, times: number): Promise<void> {
    const charges = await this.providerCharges();
    if (charges) expect(charges.get(paymentId) ?? 0, `provider charges of ${paymentId}`).to.equal(times);
  }

  /** Publishes a PaymentCreated as a broker redelivery or a stray publisher would, with its own message id. */
  async publishPaymentCreated(payment: Payment, userId: string, msgId: string): Promise<void> {
    const nc = await connect({ servers: this.cluster.natsUrl });
    try {
      const event = PaymentCreated.fromPartial({
        paymentId: payment.id,
        userId,
        serviceId: payment.serviceId,
        details: payment.details,
        amount: payment.amount,
        createTime: payment.createTime,
      });
      await jetstream(nc).publish("payment2.created", PaymentCreated.encode(event).finish(), { msgID: msgId });
    } finally {
      await nc.close();
    }
  }

  recentLogs(lines = 120): string {
    return this.logs.slice(-lines).join("\n");
  }

  async stop(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    await this.orm?.close().catch(() => undefined);
    await this.cluster.stop();
  }
}
