import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import type { Context } from "@opentelemetry/api";
import { callUnary } from "@payments/common/grpc/client";
import { uniqueDatabaseUrl, dropDatabase } from "@payments/testing/database";
import { policyTokenInterceptor } from "@payments/testing/serviceTokens";
import {
  ProcessingServiceClient,
  SettleOutcome,
  type HoldRequest,
  type HoldResponse,
  type SettleRequest,
  type SettleResponse,
} from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { RejectReason } from "@payments/contracts/gen/payments/v1/payment";
import type { EntityManager } from "@mikro-orm/postgresql";
import { processingAccessPolicy } from "../../src/accessPolicy.js";
import { startProcessing, type ProcessingApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { deposit, openAccount } from "../../src/money/deposit.js";
import { query } from "../../src/money/sql.js";

/** Processing on a free port over a fresh database, with a client and helpers for tests. */
export class ProcessingHarness {
  private constructor(
    readonly app: ProcessingApp,
    readonly client: ProcessingServiceClient,
    readonly databaseUrl: string,
    /** Development service keys Processing trusts; sign with devServiceSigner(keysDir, name). */
    readonly keysDir: string,
  ) {}

  static async start(): Promise<ProcessingHarness> {
    const databaseUrl = uniqueDatabaseUrl();
    const keysDir = await mkdtemp(path.join(os.tmpdir(), "processing-keys-"));
    const base = loadConfig({});
    const config = { ...base, port: 0, host: "127.0.0.1", databaseUrl, seedDemoData: false, serviceAuth: { devKeysDir: keysDir } };
    const app = await startProcessing(config, pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }));
    // Each call is signed as a service allowed to make it (Hold as payment, Settle as gateway, ...).
    const client = new ProcessingServiceClient(`127.0.0.1:${app.grpc.port}`, grpc.credentials.createInsecure(), {
      interceptors: [await policyTokenInterceptor(keysDir, processingAccessPolicy)],
    });
    return new ProcessingHarness(app, client, databaseUrl, keysDir);
  }

  async stop(): Promise<void> {
    this.client.close();
    await this.app.stop();
    await dropDatabase(this.databaseUrl);
    await rm(this.keysDir, { recursive: true, force: true });
  }

  em(): EntityManager {
    return this.app.orm.em.fork();
  }

  /** Opens `userId`'s account in `currency` and deposits `amountMinor` into it. */
  async fund(userId: string, currency: string, amountMinor: bigint): Promise<void> {
    const em = this.em();
    const accountId = await openAccount(em, userId, currency, "USER");
    await deposit(em, accountId, amountMinor, currency, `test:${userId}:${currency}:${Date.now()}:${Math.random()}`);
  }

  async account(ownerId: string, currency: string): Promise<{ balance: bigint; held: bigint }> {
    const [row] = await query<{ balance_minor: string; held_minor: string }>(
      this.em(),
      "select balance_minor, held_minor from accounts where owner_id = ? and currency = ?",
      [ownerId, currency],
    );
    return row ? { balance: BigInt(row.balance_minor), held: BigInt(row.held_minor) } : { balance: 0n, held: 0n };
  }

  async count(table: "payments" | "ledger_entries" | "settlements", where = "true", params: unknown[] = []): Promise<number> {
    const [row] = await query<{ n: string }>(this.em(), `select count(*) as n from ${table} where ${where}`, params);
    return Number(row!.n);
  }

  /** Holds through the gRPC API; the call continues `trace` when given. */
  hold(request: Partial<HoldRequest>, trace?: Context): Promise<HoldResponse> {
    return callUnary(this.client.hold.bind(this.client), holdRequest(request), { trace });
  }

  settle(request: Partial<SettleRequest> & { paymentId: string }): Promise<SettleResponse> {
    return callUnary(this.client.settle.bind(this.client), {
      idempotencyKey: `settle:${request.paymentId}`,
      outcome: SettleOutcome.SETTLE_OUTCOME_APPROVED,
      rejectReason: RejectReason.REJECT_REASON_UNSPECIFIED,
      rejectMessage: "",
      requireUnderReview: false,
      note: "",
      ...request,
    });
  }
}

/** A valid Hold request for a mobile top-up, overridable field by field. */
export function holdRequest(overrides: Partial<HoldRequest> = {}): HoldRequest {
  return {
    userId: "alice",
    idempotencyKey: `key-${Math.random().toString(36).slice(2)}`,
    serviceId: "mobile-top-up",
    details: { kind: { $case: "mobileTopUp", value: { phoneNumber: "+14155550123" } } },
    amount: { currencyCode: "USD", amountMinor: 1_000n },
    ...overrides,
  };
}
