/**
 * `npm run pay -- ...`: pays for a service through the public API and follows the payment
 * to its outcome. Exit code 0 when APPROVED, 2 when REJECTED, 1 on any error. Options
 * missing on the command line are asked for when stdin is a terminal.
 */
import { randomUUID } from "node:crypto";
import { createInterface, type Interface } from "node:readline/promises";
import { parseArgs } from "node:util";
import type * as grpc from "@grpc/grpc-js";
import { callUnary } from "@payments/common/grpc/client";
import { ServiceKind, type PayableService } from "@payments/contracts/gen/payments/v1/catalog";
import { PaymentStatus, type Payment, type PaymentDetails } from "@payments/contracts/gen/payments/v1/payment";
import type { PaymentServiceClient } from "@payments/contracts/gen/payments/v1/payment_service";
import { AmountError, formatMinor, parseAmount } from "./lib/amount.js";
import {
  authMetadata,
  createPaymentClient,
  CALLER_OPTIONS,
  describeDetails,
  describeStatus,
  formatMoney,
  isTerminal,
  resolveToken,
  runCli,
  statusName,
  UsageError,
} from "./lib/cli.js";

const USAGE = `usage: npm run pay -- --service <id> [details] --amount <decimal> [--currency USD] [options]

  --service <id>     mobile-top-up | home-internet | utility-bill (see the catalog)
  --phone <number>   mobile-top-up: phone number, e.g. +14155550123
  --contract <no>    home-internet: contract number, 6 to 12 digits
  --account <no>     utility-bill: account number, 8 to 16 digits
  --period <YYYY-MM> utility-bill: billing period
  --amount <decimal> in major units, e.g. 10.00
  --currency <code>  ISO 4217 code (default USD, or the service's only currency)
  --user <id>        sign a dev token for this user (default alice)
  --token <jwt>      use this token instead (or set PAYMENTS_TOKEN)
  --key <key>        idempotency key (default a random UUID); reuse it to retry safely
  --addr <host:port> payment API (default PAYMENT_ADDR or 127.0.0.1:50051)
  --timeout <s>      how long to wait for the outcome (default 120)

Missing options are asked for when run in a terminal.`;

/** Exit code of a payment that was rejected, distinct from a failure to pay. */
const EXIT_REJECTED = 2;

runCli(async () => {
  const { values } = parseArgs({
    options: {
      ...CALLER_OPTIONS,
      service: { type: "string" },
      phone: { type: "string" },
      contract: { type: "string" },
      account: { type: "string" },
      period: { type: "string" },
      amount: { type: "string" },
      currency: { type: "string" },
      key: { type: "string" },
      timeout: { type: "string", default: "120" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new UsageError(`--timeout must be a positive number of seconds`);

  const token = await resolveToken(values);
  const metadata = authMetadata(token);
  const client = createPaymentClient(values.addr);
  try {
    const { services } = await callUnary(client.listServices.bind(client), {}, { metadata });
    const prompt = process.stdin.isTTY ? createInterface({ input: process.stdin, output: process.stderr }) : undefined;
    let request: { serviceId: string; details: PaymentDetails; currency: string; amountMinor: bigint };
    try {
      request = await completeRequest(values, services, prompt);
    } finally {
      prompt?.close();
    }

    const { payment } = await callUnary(
      client.createPayment.bind(client),
      {
        idempotencyKey: values.key ?? randomUUID(),
        serviceId: request.serviceId,
        details: request.details,
        amount: { currencyCode: request.currency, amountMinor: request.amountMinor },
      },
      { metadata, deadlineMs: 10_000 },
    );
    if (!payment) throw new Error("CreatePayment returned no payment");
    process.stdout.write(`payment accepted: ${payment.id} (${statusName(payment.status)})\n`);
    process.stdout.write(`  ${request.serviceId}, ${describeDetails(payment.details)}, ${formatMoney(payment.amount)}\n`);

    const final = isTerminal(payment.status) ? payment : await follow(client, metadata, payment, timeoutSeconds * 1000);
    if (final !== payment) process.stdout.write(`${describeStatus(final)}\n`);
    else process.stdout.write(`already final: ${describeStatus(final)}\n`);
    return final.status === PaymentStatus.PAYMENT_STATUS_APPROVED ? 0 : EXIT_REJECTED;
  } finally {
    client.close();
  }
});

/**
 * Streams WatchPayment and prints every status change until a terminal status, which it
 * resolves with; the server ends the stream there too.
 */
function follow(client: PaymentServiceClient, metadata: grpc.Metadata, created: Payment, timeoutMs: number): Promise<Payment> {
  return new Promise((resolve, reject) => {
    const call = client.watchPayment({ paymentId: created.id }, metadata, { deadline: new Date(Date.now() + timeoutMs) });
    let last = created.status;
    let settled = false;
    call.on("data", ({ payment }: { payment?: Payment }) => {
      if (!payment || settled) return;
      if (isTerminal(payment.status)) {
        settled = true;
        call.cancel();
        resolve(payment);
      } else if (payment.status !== last) {
        process.stdout.write(`${describeStatus(payment)}\n`);
      }
      last = payment.status;
    });
    call.on("error", (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
    call.on("end", () => {
      if (!settled) {
        settled = true;
        reject(new Error(`WatchPayment ended while the payment was still ${statusName(last)}`));
      }
    });
  });
}

interface PayOptions {
  service?: string;
  phone?: string;
  contract?: string;
  account?: string;
  period?: string;
  amount?: string;
  currency?: string;
}

/**
 * Turns the options into a request, asking for what is missing when `prompt` is given
 * (stdin is a terminal) and refusing with the list of missing options otherwise.
 */
async function completeRequest(
  options: PayOptions,
  services: PayableService[],
  prompt: Interface | undefined,
): Promise<{ serviceId: string; details: PaymentDetails; currency: string; amountMinor: bigint }> {
  const missing: string[] = [];
  const ask = async (flag: string, question: string, fallback?: string): Promise<string> => {
    if (!prompt) {
      if (fallback !== undefined) return fallback;
      missing.push(flag);
      return "";
    }
    for (;;) {
      const answer = (await prompt.question(`${question}${fallback ? ` [${fallback}]` : ""}: `)).trim();
      if (answer) return answer;
      if (fallback !== undefined) return fallback;
    }
  };

  let service = options.service === undefined ? undefined : services.find((s) => s.id === options.service);
  if (options.service !== undefined && !service) {
    throw new UsageError(`unknown service "${options.service}"; the catalog has ${services.map((s) => s.id).join(", ")}`);
  }
  if (!service) {
    if (!prompt) throw new UsageError(`missing --service (${services.map((s) => s.id).join(" | ")})\n\n${USAGE}`);
    process.stderr.write("Services:\n");
    services.forEach((s, i) => process.stderr.write(`  ${i + 1}. ${s.displayName} (${s.id})\n`));
    while (!service) {
      const answer = (await prompt.question(`Pay for which service? [1-${services.length}]: `)).trim();
      service = services[Number(answer) - 1] ?? services.find((s) => s.id === answer);
    }
  }

  const field = (name: string) => service.detailFields.find((f) => f.name === name);
  const askField = async (flag: string, name: string, given: string | undefined) => {
    if (given !== undefined) return given;
    const f = field(name);
    return ask(`--${flag}`, f ? `${f.description}${f.example ? ` (e.g. ${f.example})` : ""}` : name);
  };

  let details: PaymentDetails;
  switch (service.kind) {
    case ServiceKind.SERVICE_KIND_MOBILE_TOP_UP:
      details = { kind: { $case: "mobileTopUp", value: { phoneNumber: await askField("phone", "phone_number", options.phone) } } };
      break;
    case ServiceKind.SERVICE_KIND_HOME_INTERNET:
      details = { kind: { $case: "homeInternet", value: { contractNumber: await askField("contract", "contract_number", options.contract) } } };
      break;
    case ServiceKind.SERVICE_KIND_UTILITY_BILL:
      details = {
        kind: {
          $case: "utilityBill",
          value: {
            accountNumber: await askField("account", "account_number", options.account),
            billingPeriod: await askField("period", "billing_period", options.period),
          },
        },
      };
      break;
    default:
      throw new Error(`service ${service.id} has a kind this client does not know (${service.kind}); update the CLI`);
  }

  const currencies = service.limits.map((l) => l.currencyCode);
  const defaultCurrency = currencies.length === 1 ? currencies[0]! : currencies.includes("USD") ? "USD" : currencies[0];
  const currency = (options.currency ?? (await ask("--currency", `Currency (${currencies.join(", ")})`, defaultCurrency))).toUpperCase();
  const limit = service.limits.find((l) => l.currencyCode === currency);
  const range = limit ? `${formatMinor(limit.minAmountMinor, currency)} to ${formatMinor(limit.maxAmountMinor, currency)}` : "";

  let amountMinor = 0n;
  let amountText = options.amount;
  for (;;) {
    amountText ??= await ask("--amount", `Amount in ${currency}${range ? ` (${range})` : ""}`);
    if (missing.length > 0) throw new UsageError(`missing ${missing.join(", ")}\n\n${USAGE}`);
    try {
      amountMinor = parseAmount(amountText, currency);
      break;
    } catch (err) {
      // A typo at the prompt is asked again; on the command line it is an error.
      if (!(err instanceof AmountError) || !prompt || options.amount !== undefined) throw new UsageError((err as Error).message);
      process.stderr.write(`${err.message}\n`);
      amountText = undefined;
    }
  }
  return { serviceId: service.id, details, currency, amountMinor };
}
