/**
 * `npm run ops -- review list` and `npm run ops -- review resolve <payment-id> --outcome approved|rejected [--note ...]`:
 * the operator's tool for payments parked for manual review (the payment system could not
 * say whether it charged). Talks to Processing directly (PROCESSING_ADDR), signed as "ops".
 */
import path from "node:path";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { createServiceTokenSigner, loadServiceSigningKey, readServiceKeySettings, serviceTokenInterceptor } from "@payments/common/auth/serviceTokens";
import { callUnary } from "@payments/common/grpc/client";
import { internalChannelOptions, readInternalAllowInsecure } from "@payments/common/internalTransport";
import { defaultDataDir } from "@payments/common/paths";
import { ProcessingServiceClient, SettleOutcome, type PaymentRecord } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { RejectReason } from "@payments/contracts/gen/payments/v1/payment";
import { describeDetails, describeStatus, formatMoney, runCli, UsageError } from "./lib/cli.js";

const USAGE = `usage:
  npm run ops -- review list [--page-size 50] [--addr host:port]
  npm run ops -- review resolve <payment-id> --outcome approved|rejected [--note "..."] [--addr host:port]

Resolve a parked payment only after checking with the payment system whether it charged:
approved captures the held money and pays the service provider, rejected releases it.
`;

runCli(async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      outcome: { type: "string" },
      note: { type: "string", default: "" },
      "page-size": { type: "string", default: "50" },
      addr: { type: "string", default: process.env.PROCESSING_ADDR || "127.0.0.1:50052" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 1;
  }
  const [area, command, paymentId] = positionals;
  if (area !== "review") throw new UsageError(`unknown command "${area}"; see --help`);

  // The operator's calls carry the "ops" service token: only it may list and resolve reviews.
  const signer = createServiceTokenSigner(await loadServiceSigningKey("ops", readServiceKeySettings(process.env, path.join(defaultDataDir, "dev-keys"))));
  readInternalAllowInsecure(process.env); // production: only where the network protects the plaintext channel
  const client = new ProcessingServiceClient(
    values.addr,
    grpc.credentials.createInsecure(),
    internalChannelOptions(values.addr, { interceptors: [serviceTokenInterceptor(signer)] }),
  );
  try {
    switch (command) {
      case "list":
        return await list(client, Number(values["page-size"]));
      case "resolve":
        if (!paymentId) throw new UsageError("review resolve needs the payment id");
        return await resolve(client, paymentId, values.outcome, values.note);
      default:
        throw new UsageError(`unknown review command "${command ?? ""}"; see --help`);
    }
  } finally {
    client.close();
  }
});

async function list(client: ProcessingServiceClient, pageSize: number): Promise<number> {
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) throw new UsageError("--page-size must be 1-100");
  let pageToken = "";
  let count = 0;
  do {
    const page = await callUnary(client.listPaymentsUnderReview.bind(client), { pageSize, pageToken });
    for (const record of page.payments) process.stdout.write(`${describe(record)}\n`);
    count += page.payments.length;
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  process.stdout.write(count === 0 ? "no payments under review\n" : `${count} payment(s) under review\n`);
  return 0;
}

async function resolve(client: ProcessingServiceClient, paymentId: string, outcome: string | undefined, note: string): Promise<number> {
  if (outcome !== "approved" && outcome !== "rejected") throw new UsageError("--outcome must be approved or rejected");
  const approved = outcome === "approved";
  const { payment, replayed } = await callUnary(client.settle.bind(client), {
    paymentId,
    // One key per payment for operators: repeating the command is safe, the other outcome is refused.
    idempotencyKey: `review:${paymentId}`,
    outcome: approved ? SettleOutcome.SETTLE_OUTCOME_APPROVED : SettleOutcome.SETTLE_OUTCOME_REJECTED,
    rejectReason: approved ? RejectReason.REJECT_REASON_UNSPECIFIED : RejectReason.REJECT_REASON_PROVIDER_UNAVAILABLE,
    rejectMessage: approved ? "" : "the payment system could not carry out the payment; nothing was charged",
    requireUnderReview: true,
    note: note ? `operator: ${note}` : "operator",
  });
  process.stdout.write(`${paymentId}: ${payment ? describeStatus(payment) : "?"}${replayed ? " (already resolved)" : ""}\n`);
  return 0;
}

function describe(record: PaymentRecord): string {
  const p = record.payment;
  if (!p) return `? (user ${record.userId})`;
  const since = record.reviewTime?.toISOString() ?? "?";
  return `${p.id}  user ${record.userId}  ${p.serviceId}, ${describeDetails(p.details)}, ${formatMoney(p.amount)}  created ${p.createTime?.toISOString() ?? "?"}  under review since ${since}: ${record.reviewReason}`;
}
