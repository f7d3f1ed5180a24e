/** `npm run payments -- [--user alice] [--limit 20]`: lists the caller's payments, newest first. */
import { parseArgs } from "node:util";
import { callUnary } from "@payments/common/grpc/client";
import {
  authMetadata,
  createPaymentClient,
  CALLER_OPTIONS,
  describeDetails,
  describeStatus,
  formatMoney,
  resolveToken,
  runCli,
  UsageError,
} from "./lib/cli.js";

runCli(async () => {
  const { values } = parseArgs({
    options: {
      ...CALLER_OPTIONS,
      limit: { type: "string", default: "20" },
    },
  });
  if (values.help) {
    process.stdout.write("usage: npm run payments -- [--user alice | --token <jwt>] [--limit 20] [--addr host:port]\n");
    return 0;
  }
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new UsageError(`--limit must be 1 to 100, got "${values.limit}"`);

  const client = createPaymentClient(values.addr);
  try {
    const { payments } = await callUnary(
      client.listPayments.bind(client),
      { pageSize: limit, pageToken: "" },
      { metadata: authMetadata(await resolveToken(values)) },
    );
    if (payments.length === 0) {
      process.stdout.write("no payments yet\n");
      return 0;
    }
    for (const p of payments) {
      const when = p.createTime ? p.createTime.toISOString().replace("T", " ").slice(0, 19) : "";
      process.stdout.write(`${when}  ${p.id}  ${p.serviceId.padEnd(13)}  ${formatMoney(p.amount).padStart(12)}  ${describeStatus(p)}\n`);
      const details = describeDetails(p.details);
      if (details) process.stdout.write(`${" ".repeat(when.length + 2)}${details}\n`);
    }
    return 0;
  } finally {
    client.close();
  }
});
