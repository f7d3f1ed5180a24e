import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { invalidArgument } from "@payments/common/grpc/errors";
import { ServiceKind } from "@payments/contracts/gen/payments/v1/catalog";
import type { PaymentDetails } from "@payments/contracts/gen/payments/v1/payment";
import type { CatalogService } from "@payments/catalog/catalog";

type DetailsCase = NonNullable<PaymentDetails["kind"]>["$case"];

/** The details variant each service kind takes, with its proto field name for messages. */
const variantOfKind: Partial<Record<ServiceKind, { $case: DetailsCase; field: string }>> = {
  [ServiceKind.SERVICE_KIND_MOBILE_TOP_UP]: { $case: "mobileTopUp", field: "mobile_top_up" },
  [ServiceKind.SERVICE_KIND_HOME_INTERNET]: { $case: "homeInternet", field: "home_internet" },
  [ServiceKind.SERVICE_KIND_UTILITY_BILL]: { $case: "utilityBill", field: "utility_bill" },
};

const protoFieldOfCase: Record<DetailsCase, string> = {
  mobileTopUp: "mobile_top_up",
  homeInternet: "home_internet",
  utilityBill: "utility_bill",
};

/** Digits and the punctuation people write phone numbers with; anything else is refused, not ignored. */
const PHONE_CHARACTERS = /^\+[0-9 ()\-.]{1,40}$/;
const CONTRACT_NUMBER = /^\d{6,12}$/;
const ACCOUNT_NUMBER = /^\d{8,16}$/;
const BILLING_PERIOD = /^(\d{4})-(\d{2})$/;

/**
 * Checks that `details` is the variant the service's kind takes and that its fields are
 * well formed; returns the normalised details (phone numbers in E.164, surrounding spaces
 * trimmed). Throws INVALID_ARGUMENT naming the field.
 */
export function validatePaymentDetails(details: PaymentDetails | undefined, service: CatalogService): PaymentDetails {
  const expected = variantOfKind[service.kind];
  if (!expected) throw new Error(`catalog service ${service.id} has no details variant for kind ${service.kind}`);
  const kind = details?.kind;
  if (!kind) throw invalidArgument("details", `is required; service ${service.id} takes details.${expected.field}`);
  if (kind.$case !== expected.$case)
    throw invalidArgument(
      "details",
      `service ${service.id} takes details.${expected.field}, got details.${protoFieldOfCase[kind.$case]}`,
    );
  switch (kind.$case) {
    case "mobileTopUp":
      return { kind: { $case: "mobileTopUp", value: { phoneNumber: normalisePhoneNumber(kind.value.phoneNumber) } } };
    case "homeInternet": {
      const field = "details.home_internet.contract_number";
      const contractNumber = kind.value.contractNumber.trim();
      if (contractNumber === "") throw invalidArgument(field, "is required");
      if (!CONTRACT_NUMBER.test(contractNumber)) throw invalidArgument(field, "must be 6 to 12 digits");
      return { kind: { $case: "homeInternet", value: { contractNumber } } };
    }
    case "utilityBill": {
      const accountField = "details.utility_bill.account_number";
      const accountNumber = kind.value.accountNumber.trim();
      if (accountNumber === "") throw invalidArgument(accountField, "is required");
      if (!ACCOUNT_NUMBER.test(accountNumber)) throw invalidArgument(accountField, "must be 8 to 16 digits");
      const billingPeriod = validateBillingPeriod(kind.value.billingPeriod.trim());
      return { kind: { $case: "utilityBill", value: { accountNumber, billingPeriod } } };
    }
  }
}

/**
 * Accepts a phone number in international format ("+" and country code), valid for its
 * country, and returns it in E.164 ("+14155550123").
 */
export function normalisePhoneNumber(raw: string): string {
  const field = "details.mobile_top_up.phone_number";
  const value = raw.trim();
  if (value === "") throw invalidArgument(field, "is required");
  if (!value.startsWith("+")) throw invalidArgument(field, "must be in international format, starting with + and the country code");
  if (!PHONE_CHARACTERS.test(value)) throw invalidArgument(field, "may only contain digits, spaces, dashes, dots and parentheses after the +");
  const parsed = parsePhoneNumberFromString(value);
  if (!parsed || !parsed.isValid() || parsed.ext) throw invalidArgument(field, "is not a valid phone number");
  return parsed.number;
}

function validateBillingPeriod(value: string): string {
  const field = "details.utility_bill.billing_period";
  if (value === "") throw invalidArgument(field, "is required");
  const match = BILLING_PERIOD.exec(value);
  if (!match) throw invalidArgument(field, "must be YYYY-MM, for example 2026-10");
  const year = Number(match[1]);
  const month = Number(match[2]);
  if (month < 1 || month > 12) throw invalidArgument(field, `month must be 01 to 12, got ${match[2]}`);
  if (year < 1970) throw invalidArgument(field, `year ${match[1]} is not a plausible billing year`);
  return value;
}
