import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { MikroORM, type Connection, type Transaction } from "@mikro-orm/postgresql";
import { decideOutcome } from "../domain/outcomeRules.js";
import { ProviderUnavailableError, type ChargeRequest, type ChargeResult, type ChargeStatus, type PaymentProvider } from "./paymentProvider.js";
import type { StubProviderOptions } from "./stubProvider.js";

/** The stub's settings plus where it keeps its charges. */
export interface PgStubProviderOptions extends StubProviderOptions {
  /** PostgreSQL database of the stub (PROVIDER_STUB_DATABASE_URL); created if missing. */
  databaseUrl: string;
  poolMax?: number;
}

/** Arbitrary constant naming the advisory lock that serialises creating the table across replicas. */
const SCHEMA_LOCK_ID = 7_201_127;

/** PostgreSQL's "lock_not_available": a status lookup found a charge with the key in progress. */
const LOCK_NOT_AVAILABLE = "55P03";

const CREATE_TABLE = `
  create table if not exists stub_provider_charges (
    idempotency_key varchar(128) primary key,
    state varchar(16) not null check (state in ('APPROVED', 'DECLINED', 'REFUSED')),
    provider_reference text,
    decline_reason text,
    payment_id varchar(64),
    amount_minor bigint,
    currency char(3),
    -- money actually taken for the key: 0 or 1 unless the stub is broken
    charge_count integer not null default 0,
    charge_calls integer not null default 0,
    status_calls integer not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
  )`;

function connect(options: PgStubProviderOptions): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: options.databaseUrl,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: true,
    pool: { min: 0, max: options.poolMax ?? 10 },
    ensureDatabase: false,
    debug: false,
  });
}

interface ChargeRow {
  state: "APPROVED" | "DECLINED" | "REFUSED";
  provider_reference: string | null;
  decline_reason: string | null;
  inserted: boolean;
}

/**
 * The stub payment provider with its state in PostgreSQL, so that it survives gateway crashes
 * and all gateway replicas see one provider, as they would a real one. Per idempotency key it
 * keeps one row, written by a single upsert: a charge inserts its verdict or gets the first
 * one (a concurrent charge with the same key waits for the first to commit); a status lookup
 * of an unknown key inserts it as REFUSED, so NOT_FOUND is final and a later charge with that
 * key is declined.
 */
export class PgStubPaymentProvider implements PaymentProvider {
  private readonly random: () => number;

  private constructor(
    private readonly orm: MikroORM,
    private readonly options: PgStubProviderOptions,
  ) {
    this.random = options.random ?? Math.random;
  }

  /** Connects, creates the database and the table if missing. */
  static async open(options: PgStubProviderOptions): Promise<PgStubPaymentProvider> {
    let orm = await connect(options);
    try {
      await orm.schema.ensureDatabase();
    } catch {
      // Replicas starting together race to create the database and the loser's connection is
      // left on the maintenance database: start over with a fresh one, which finds it.
      await orm.close();
      orm = await connect(options);
      await orm.schema.ensureDatabase().catch(async (err: unknown) => {
        await orm.close();
        throw err;
      });
    }
    try {
      const connection = orm.em.getConnection();
      await connection.transactional(async (trx) => {
        await connection.execute("select pg_advisory_xact_lock(?)", [SCHEMA_LOCK_ID], "run", trx);
        await connection.execute(CREATE_TABLE, [], "run", trx);
      });
    } catch (err) {
      await orm.close();
      throw err;
    }
    return new PgStubPaymentProvider(orm, options);
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    await this.simulateNetwork();
    const verdict = decideOutcome(this.options.rules, request);
    const approved = verdict.outcome === "APPROVED";
    const row = await this.upsert(
      `insert into stub_provider_charges
         (idempotency_key, state, provider_reference, decline_reason, payment_id, amount_minor, currency, charge_count, charge_calls)
       values (?, ?, ?, ?, ?, ?, ?, ?, 1)
       on conflict (idempotency_key) do update
         set charge_calls = stub_provider_charges.charge_calls + 1, updated_at = now()
       returning state, provider_reference, decline_reason, (xmax = 0) as inserted`,
      [
        request.idempotencyKey,
        verdict.outcome,
        approved ? `stub-${randomUUID()}` : null,
        approved ? null : verdict.reason,
        request.paymentId,
        request.amountMinor.toString(),
        request.currency,
        approved ? 1 : 0,
      ],
    );
    if (row.state === "REFUSED") return { outcome: "DECLINED", reason: "the payment was cancelled after the provider was unavailable" };
    return resultOf(row);
  }

  async status(idempotencyKey: string): Promise<ChargeStatus> {
    await this.simulateNetwork();
    let row: ChargeRow;
    try {
      row = await this.upsert(
        `insert into stub_provider_charges (idempotency_key, state, status_calls) values (?, 'REFUSED', 1)
         on conflict (idempotency_key) do update set status_calls = stub_provider_charges.status_calls + 1, updated_at = now()
         returning state, provider_reference, decline_reason, (xmax = 0) as inserted`,
        [idempotencyKey],
        // A charge with this key holding the row lock is being carried out right now.
        "set local lock_timeout = '1s'",
      );
    } catch (err) {
      if ((err as { cause?: { code?: string } }).cause?.code === LOCK_NOT_AVAILABLE) return { outcome: "PENDING" };
      throw err;
    }
    return row.state === "REFUSED" ? { outcome: "NOT_FOUND" } : resultOf(row);
  }

  /** How many times money was taken for this key (0 or 1 unless the stub is broken). */
  async chargeCount(idempotencyKey: string): Promise<number> {
    const rows = await this.connection().execute<Array<{ charge_count: number }>>(
      "select charge_count from stub_provider_charges where idempotency_key = ?",
      [idempotencyKey],
      "all",
    );
    return rows[0]?.charge_count ?? 0;
  }

  async close(): Promise<void> {
    await this.orm.close();
  }

  private connection(): Connection {
    return this.orm.em.getConnection();
  }

  /** Runs one upsert in its own transaction; a database failure is "the provider did not answer". */
  private async upsert(sql: string, params: unknown[], setup?: string): Promise<ChargeRow> {
    const connection = this.connection();
    try {
      return await connection.transactional(async (trx: Transaction) => {
        if (setup) await connection.execute(setup, [], "run", trx);
        const rows = await connection.execute<ChargeRow[]>(sql, params as never[], "all", trx);
        return rows[0]!;
      });
    } catch (err) {
      throw new ProviderUnavailableError(`stub provider: ${(err as Error).message}`, { cause: err });
    }
  }

  private async simulateNetwork(): Promise<void> {
    const jitter = Math.floor(this.random() * (this.options.latencyJitterMs ?? 0));
    if (this.options.latencyMs + jitter > 0) await sleep(this.options.latencyMs + jitter);
    if (this.random() < (this.options.transientFailureRate ?? 0)) throw new ProviderUnavailableError("stub provider: simulated outage");
  }
}

function resultOf(row: ChargeRow): ChargeResult {
  return row.state === "APPROVED"
    ? { outcome: "APPROVED", providerReference: row.provider_reference ?? "" }
    : { outcome: "DECLINED", reason: row.decline_reason ?? "declined" };
}
