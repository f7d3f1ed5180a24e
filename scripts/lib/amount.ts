/** Thrown for an amount or currency the CLI cannot turn into minor units. */
export class AmountError extends Error {
  override name = "AmountError";
}

/**
 * Number of minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, BHD 3), as the
 * platform's Intl data knows it. Rejects codes Intl does not accept.
 */
export function currencyDigits(currency: string): number {
  if (!/^[A-Z]{3}$/.test(currency)) throw new AmountError(`currency must be a 3-letter ISO 4217 code like USD, got "${currency}"`);
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    throw new AmountError(`unknown currency "${currency}"`);
  }
}

/**
 * Parses a decimal amount in major units ("10.00", "10", "0.5") into minor units of
 * `currency`, working on the digits as text so that no float rounding can creep in. More
 * decimals than the currency has, signs, exponents and zero are refused.
 */
export function parseAmount(text: string, currency: string): bigint {
  const digits = currencyDigits(currency);
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new AmountError(`amount must be a positive decimal number like 10.00, got "${text}"`);
  const whole = match[1]!;
  const fraction = match[2] ?? "";
  if (fraction.length > digits) {
    throw new AmountError(
      digits === 0
        ? `${currency} has no minor units; give a whole amount, got "${text}"`
        : `${currency} has ${digits} decimal places; "${text}" has ${fraction.length}`,
    );
  }
  const minor = BigInt(whole + fraction.padEnd(digits, "0"));
  if (minor <= 0n) throw new AmountError("amount must be greater than zero");
  return minor;
}

/** Formats minor units as a decimal in major units, e.g. 1050n USD -> "10.50". */
export function formatMinor(minor: bigint, currency: string): string {
  const digits = currencyDigits(currency);
  const negative = minor < 0n;
  const abs = (negative ? -minor : minor).toString().padStart(digits + 1, "0");
  const whole = abs.slice(0, abs.length - digits);
  const fraction = abs.slice(abs.length - digits);
  return `${negative ? "-" : ""}${whole}${digits > 0 ? `.${fraction}` : ""}`;
}
