import * as grpc from "@grpc/grpc-js";
import path from "node:path";
import { loadOrCreateDevKeys } from "@payments/common/auth/devKeys";
import { signDevToken } from "@payments/common/auth/devToken";
import { defaultDataDir } from "@payments/common/paths";
import { PaymentServiceClient } from "@payments/contracts/gen/payments/v1/payment_service";
import { PaymentStatus, RejectReason, type Payment, type PaymentDetails } from "@payments/contracts/gen/payments/v1/payment";
import { formatMinor } from "./amount.js";

/** Default address of the public payment API. */
export const DEFAULT_PAYMENT_ADDR = process.env.PAYMENT_ADDR || "127.0.0.1:50051";

/** User ids dev tokens can be signed for, as the payment service accepts them. */
const USER_ID_PATTERN = /^[A-Za-z0-9._@-]{1,128}$/;

/**
 * The `parseArgs` options every command of the public API takes: who calls (`--user` for a
 * dev token, or `--token`), where (`--addr`), and `--help`.
 */
export const CALLER_OPTIONS = {
  user: { type: "string" },
  token: { type: "string" },
  addr: { type: "string", default: DEFAULT_PAYMENT_ADDR },
  help: { type: "boolean", short: "h" },
} as const;

/** A mistake in how the command was called; printed without a stack, exit code 1. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Signs a dev token for `userId` with the key in DEV_KEYS_DIR (created on first use). */
export async function devTokenFor(userId: string, ttlSeconds = 3600): Promise<string> {
  if (!USER_ID_PATTERN.test(userId)) throw new UsageError(`user id must match ${USER_ID_PATTERN}, got "${userId}"`);
  const keys = await loadOrCreateDevKeys(process.env.DEV_KEYS_DIR || path.join(defaultDataDir, "dev-keys"));
  return signDevToken(keys, userId, ttlSeconds);
}

/** The token to call with: --token, else PAYMENTS_TOKEN, else a dev token for --user (alice). */
export async function resolveToken(options: { token?: string; user?: string }): Promise<string> {
  if (options.token) return options.token;
  if (options.user === undefined && process.env.PAYMENTS_TOKEN) return process.env.PAYMENTS_TOKEN;
  return devTokenFor(options.user ?? "alice");
}

/** Metadata carrying the bearer token. */
export function authMetadata(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

/** A client of the public API over a plain-text channel, as the local stack serves it. */
export function createPaymentClient(address: string): PaymentServiceClient {
  return new PaymentServiceClient(address, grpc.credentials.createInsecure());
}

/** "CREATED" for PAYMENT_STATUS_CREATED. */
export function statusName(status: PaymentStatus): string {
  return (PaymentStatus[status] ?? String(status)).replace(/^PAYMENT_STATUS_/, "");
}

/** "DECLINED_BY_PROVIDER" for REJECT_REASON_DECLINED_BY_PROVIDER. */
export function rejectReasonName(reason: RejectReason): string {
  return (RejectReason[reason] ?? String(reason)).replace(/^REJECT_REASON_/, "");
}

/** True for APPROVED and REJECTED, after which a payment never changes. */
export function isTerminal(status: PaymentStatus): boolean {
  return status === PaymentStatus.PAYMENT_STATUS_APPROVED || status === PaymentStatus.PAYMENT_STATUS_REJECTED;
}

/** "10.00 USD". */
export function formatMoney(money: { currencyCode: string; amountMinor: bigint } | undefined): string {
  if (!money) return "?";
  try {
    return `${formatMinor(money.amountMinor, money.currencyCode)} ${money.currencyCode}`;
  } catch {
    return `${money.amountMinor} minor units of ${money.currencyCode}`;
  }
}

/** What was paid for, in a few words. */
export function describeDetails(details: PaymentDetails | undefined): string {
  switch (details?.kind?.$case) {
    case "mobileTopUp":
      return `phone ${details.kind.value.phoneNumber}`;
    case "homeInternet":
      return `contract ${details.kind.value.contractNumber}`;
    case "utilityBill":
      return `account ${details.kind.value.accountNumber}, period ${details.kind.value.billingPeriod}`;
    default:
      return "";
  }
}

/** "REJECTED (DECLINED_BY_PROVIDER: the number is blocked)" or just the status name. */
export function describeStatus(payment: Payment): string {
  const name = statusName(payment.status);
  if (payment.status !== PaymentStatus.PAYMENT_STATUS_REJECTED) return name;
  const reason = rejectReasonName(payment.rejectReason);
  return `${name} (${reason}${payment.rejectMessage ? `: ${payment.rejectMessage}` : ""})`;
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as grpc.ServiceError).code === "number" && "details" in err;
}

/** One line for an error: the gRPC status name and message for a failed call. */
export function describeError(err: unknown): string {
  if (isServiceError(err)) return `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Runs a command's main function: its resolved value is the exit code; a UsageError or a
 * failed call is printed on one line to stderr and exits 1.
 */
export function runCli(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`error: ${describeError(err)}\n`);
      process.exit(1);
    },
  );
}
