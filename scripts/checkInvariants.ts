/**
 * `npm run check-invariants -- [--database-url URL] [--pending-older-than-s N]`: checks the
 * money invariants of Processing's database, prints each rule with OK or FAILED and the
 * offending rows, and lists payments left CREATED for longer than N seconds. Exits 0 when
 * everything holds, 1 otherwise. Read-only: safe against production.
 */
import { parseArgs } from "node:util";
import type { MikroORM } from "@mikro-orm/postgresql";
import { formatInvariantReport, openPaymentsDatabase, runInvariantReport } from "./lib/invariantReport.js";
import { runCli, UsageError } from "./lib/cli.js";

const USAGE = `usage: npm run check-invariants -- [--database-url URL] [--provider-database-url URL] [--pending-older-than-s 300]
  --database-url           Processing's database (default: DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/payments)
  --provider-database-url  the stub provider's database (PROVIDER_STUB_DATABASE_URL): also check its charges
                           (checked anyway when its table is in Processing's database)
  --pending-older-than-s  report CREATED payments older than this (default 300)
exit code: 0 all invariants hold, 1 a rule is broken, a payment is stuck, or the check failed
`;

runCli(async () => {
  const { values } = parseArgs({
    options: {
      "database-url": { type: "string" },
      "provider-database-url": { type: "string" },
      "pending-older-than-s": { type: "string", default: "300" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const olderThanS = Number(values["pending-older-than-s"]);
  if (!Number.isFinite(olderThanS) || olderThanS < 0) throw new UsageError(`--pending-older-than-s must be a number of seconds\n${USAGE}`);
  const databaseUrl = values["database-url"] ?? process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/payments";
  const providerUrl = values["provider-database-url"];
  const orm = await openPaymentsDatabase(databaseUrl);
  let providerOrm: MikroORM | undefined;
  try {
    if (providerUrl) providerOrm = await openPaymentsDatabase(providerUrl);
    const report = await runInvariantReport(orm.em.fork(), { pendingOlderThanMs: olderThanS * 1000, providerEm: providerOrm?.em.fork() });
    const provider = providerUrl ? `, provider ${redact(providerUrl)}` : "";
    process.stdout.write(`database ${redact(databaseUrl)}${provider}\n${formatInvariantReport(report)}`);
    return report.ok ? 0 : 1;
  } finally {
    await providerOrm?.close();
    await orm.close();
  }
});

/** The URL without its password, for the report. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}
