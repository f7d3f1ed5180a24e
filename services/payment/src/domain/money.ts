import { invalidArgument, quote } from "@payments/common/grpc/errors";
import type { Money } from "@payments/contracts/gen/payments/v1/payment";
import type { CatalogService } from "@payments/catalog/catalog";

/** ISO 4217 codes the runtime knows (Node's ICU data). */
const knownCurrencies = new Set(Intl.supportedValuesOf("currency"));

/** True for an ISO 4217 alphabetic code, e.g. "USD". */
export function isKnownCurrency(code: string): boolean {
  return knownCurrencies.has(code);
}

/**
 * Checks the amount against the service: a known currency the service accepts, and a
 * positive number of minor units inside the service's limits for that currency. Returns the
 * amount with the currency code upper-cased. Throws INVALID_ARGUMENT naming the field.
 */
export function validateAmount(amount: Money | undefined, service: CatalogService): Money {
  if (!amount) throw invalidArgument("amount", "is required");
  const currencyField = "amount.currency_code";
  const currencyCode = amount.currencyCode.trim().toUpperCase();
  if (currencyCode === "") throw invalidArgument(currencyField, "is required");
  if (!/^[A-Z]{3}$/.test(currencyCode) || !isKnownCurrency(currencyCode))
    throw invalidArgument(currencyField, `unknown currency ${quote(amount.currencyCode)}`);
  const limit = service.limits.find((l) => l.currency === currencyCode);
  if (!limit) {
    const accepted = service.limits.map((l) => l.currency).join(", ");
    throw invalidArgument(currencyField, `service ${service.id} does not accept ${currencyCode} (accepts ${accepted})`);
  }

  const amountField = "amount.amount_minor";
  const minor = amount.amountMinor;
  if (minor === 0n) throw invalidArgument(amountField, "must be greater than zero, got 0");
  if (minor < 0n) throw invalidArgument(amountField, `must be positive, got ${minor}`);
  if (minor < limit.minMinor)
    throw invalidArgument(amountField, `${minor} is below the minimum of ${limit.minMinor} ${currencyCode} minor units for ${service.id}`);
  if (minor > limit.maxMinor)
    throw invalidArgument(amountField, `${minor} is above the maximum of ${limit.maxMinor} ${currencyCode} minor units for ${service.id}`);
  return { currencyCode, amountMinor: minor };
}
