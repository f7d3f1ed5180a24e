/** `npm run account -- [--user alice]`: prints the caller's balances in major units. */
import { parseArgs } from "node:util";
import { callUnary } from "@payments/common/grpc/client";
import { formatMinor } from "./lib/amount.js";
import { authMetadata, CALLER_OPTIONS, createPaymentClient, resolveToken, runCli } from "./lib/cli.js";

runCli(async () => {
  const { values } = parseArgs({
    options: {
      ...CALLER_OPTIONS,
    },
  });
  if (values.help) {
    process.stdout.write("usage: npm run account -- [--user alice | --token <jwt>] [--addr host:port]\n");
    return 0;
  }
  const client = createPaymentClient(values.addr);
  try {
    const { balances } = await callUnary(client.getAccount.bind(client), {}, { metadata: authMetadata(await resolveToken(values)) });
    if (balances.length === 0) {
      process.stdout.write("no balances\n");
      return 0;
    }
    const rows = [
      ["currency", "total", "held", "available"],
      ...balances.map((b) => [
        b.currencyCode,
        formatMinor(b.totalMinor, b.currencyCode),
        formatMinor(b.heldMinor, b.currencyCode),
        formatMinor(b.availableMinor, b.currencyCode),
      ]),
    ];
    process.stdout.write(formatTable(rows));
    return 0;
  } finally {
    client.close();
  }
});

/** Left-aligns the first column and right-aligns the amounts so that decimal points line up. */
function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  "))
    .join("\n")
    .concat("\n");
}
