/**
 * `npm run -s token -- [userId] [--ttl seconds]`: prints a development bearer token for the
 * user (alice by default) and nothing else, so that `TOKEN=$(npm run -s token -- bob)` works.
 */
import { parseArgs } from "node:util";
import { devTokenFor, runCli, UsageError } from "./lib/cli.js";

const USAGE = "usage: npm run -s token -- [userId] [--ttl seconds]";

runCli(async () => {
  const { values, positionals } = parseArgs({
    options: { ttl: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stderr.write(`${USAGE}\nSigns a dev token with the key in DEV_KEYS_DIR (default .data/dev-keys).\n`);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(USAGE);
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
  if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new UsageError(`--ttl must be a positive whole number of seconds, got "${values.ttl}"`);
  process.stdout.write(`${await devTokenFor(positionals[0] ?? "alice", ttl)}\n`);
  return 0;
});
