import { MikroORM, type EntityManager } from "@mikro-orm/postgresql";
import { checkEachInvariant, stalePendingPayments, type InvariantViolation } from "@payments/processing/invariants";
import { createOrmConfig } from "@payments/processing/db/mikro-orm.config";
import { query } from "@payments/processing/money/sql";

/** One rule and the rows that break it (none: it holds). */
export interface RuleResult {
  rule: string;
  ok: boolean;
  rows: Record<string, unknown>[];
}

/** What {@link runInvariantReport} found. */
export interface InvariantReport {
  rules: RuleResult[];
  /** CREATED payments older than the threshold that nobody is looking at: the saga is stuck on them. */
  stuck: Record<string, unknown>[];
  /** CREATED payments older than the threshold parked for manual review (not a failure). */
  parked: Record<string, unknown>[];
  pendingOlderThanMs: number;
  ok: boolean;
}

/** Options of {@link runInvariantReport}. */
export interface InvariantReportOptions {
  /** A CREATED payment older than this is reported (default 5 minutes). */
  pendingOlderThanMs?: number;
  /** The provider stub's database, when not the payments database itself. */
  providerEm?: EntityManager;
}

/** Opens a small pool on the payments database (it is not migrated or changed). */
export async function openPaymentsDatabase(databaseUrl: string): Promise<MikroORM> {
  return MikroORM.init(createOrmConfig({ databaseUrl, poolMax: 2 }));
}

/**
 * Checks every money invariant of Processing's database, plus payments left pending; with the
 * PostgreSQL-backed provider stub's charges (in `providerEm`, or in the same database), also
 * that the provider charged each payment at most once and exactly the APPROVED ones.
 */
export async function runInvariantReport(em: EntityManager, options: InvariantReportOptions = {}): Promise<InvariantReport> {
  const pendingOlderThanMs = options.pendingOlderThanMs ?? 5 * 60_000;
  const rules: RuleResult[] = (await checkEachInvariant(em)).map((r: InvariantViolation) => ({ ...r, ok: r.rows.length === 0 }));
  rules.push(...(await providerChargeRules(em, options.providerEm)));
  const pending = await stalePendingPayments(em, pendingOlderThanMs);
  const stuck = pending.filter((p) => !p.review_reason);
  const parked = pending.filter((p) => p.review_reason);
  return { rules, stuck, parked, pendingOlderThanMs, ok: rules.every((r) => r.ok) && stuck.length === 0 };
}

/** The PostgreSQL-backed provider stub's table (PROVIDER_STUB_DATABASE_URL): one row per idempotency key. */
export const PROVIDER_CHARGES_TABLE = "stub_provider_charges";

/** Whether the database holds the provider stub's charges. */
export async function hasProviderCharges(em: EntityManager): Promise<boolean> {
  const rows = await query(em, `select 1 from information_schema.tables where table_schema = current_schema() and table_name = ?`, [PROVIDER_CHARGES_TABLE]);
  return rows.length > 0;
}

/** The provider-side rules, when the stub's charges are at hand; none otherwise. */
async function providerChargeRules(em: EntityManager, providerEm: EntityManager | undefined): Promise<RuleResult[]> {
  const stub = providerEm ?? em;
  if (!(await hasProviderCharges(stub))) return [];
  const charged = await providerChargedPayments(stub);
  const settled = await query<{ id: string; status: string }>(em, `select id, status from payments where status <> 'CREATED'`);
  const doubly = [...charged].filter(([, n]) => n > 1).map(([payment_id, charges]) => ({ payment_id, charges }));
  const mismatched = settled
    .filter((p) => (p.status === "APPROVED") !== (charged.get(p.id) ?? 0) > 0)
    .map((p) => ({ id: p.id, status: p.status, charges: charged.get(p.id) ?? 0 }));
  return [
    { rule: "the provider charged each payment at most once", ok: doubly.length === 0, rows: doubly },
    { rule: "a settled payment is APPROVED exactly when the provider charged it", ok: mismatched.length === 0, rows: mismatched },
  ];
}

/** Money the stub provider took, per payment id (keys of payments it never charged are left out). */
export async function providerChargedPayments(em: EntityManager): Promise<Map<string, number>> {
  const rows = await query<{ payment_id: string; n: string }>(
    em,
    `select coalesce(payment_id, idempotency_key) as payment_id, sum(charge_count) as n
     from ${PROVIDER_CHARGES_TABLE} group by 1 having sum(charge_count) > 0`,
  );
  return new Map(rows.map((row) => [row.payment_id, Number(row.n)]));
}

/** The report as an operator reads it: one line per rule, offending rows under a failed one. */
export function formatInvariantReport(report: InvariantReport): string {
  const lines: string[] = [];
  const show = (rows: Record<string, unknown>[]) => {
    for (const row of rows.slice(0, 20)) lines.push(`      ${JSON.stringify(row)}`);
    if (rows.length > 20) lines.push(`      … and ${rows.length - 20} more`);
  };
  for (const rule of report.rules) {
    lines.push(`${rule.ok ? "OK    " : "FAILED"}  ${rule.rule}`);
    if (!rule.ok) show(rule.rows);
  }
  const age = `${Math.round(report.pendingOlderThanMs / 1000)} s`;
  lines.push(`${report.stuck.length === 0 ? "OK    " : "FAILED"}  no payment is stuck in CREATED for more than ${age} (outside manual review)`);
  show(report.stuck);
  if (report.parked.length > 0) {
    lines.push(`INFO    ${report.parked.length} payment(s) parked for manual review for more than ${age}`);
    show(report.parked);
  }
  lines.push(report.ok ? "all invariants hold" : "INVARIANTS BROKEN");
  return lines.join("\n") + "\n";
}
