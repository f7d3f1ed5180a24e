import type { PaymentDetails } from "@payments/contracts/gen/payments/v1/payment";

/** What the stub provider decides, before it invents a provider reference. */
export type ProviderVerdict = { outcome: "APPROVED" } | { outcome: "DECLINED"; reason: string };

/** The stub provider's decline rules; with none set it approves everything. */
export interface OutcomeRules {
  /** Amounts strictly above this, in minor units, are declined; undefined = no limit. */
  declineAboveMinor?: bigint | undefined;
  /** Phone, contract or account numbers the provider refuses to pay. */
  declinedNumbers: ReadonlySet<string>;
}

/** The charge as far as the rules care. */
export interface ChargeFacts {
  amountMinor: bigint;
  currency: string;
  details: PaymentDetails | undefined;
}

/** The number that identifies the subscriber for any kind of payment details. */
export function subscriberNumber(details: PaymentDetails | undefined): string | undefined {
  const kind = details?.kind;
  switch (kind?.$case) {
    case "mobileTopUp":
      return kind.value.phoneNumber;
    case "homeInternet":
      return kind.value.contractNumber;
    case "utilityBill":
      return kind.value.accountNumber;
    default:
      return undefined;
  }
}

/**
 * Decides the stub provider's verdict. The reason is written for the payer, because it
 * ends up as the payment's reject message.
 */
export function decideOutcome(rules: OutcomeRules, charge: ChargeFacts): ProviderVerdict {
  if (rules.declineAboveMinor !== undefined && charge.amountMinor > rules.declineAboveMinor) {
    return { outcome: "DECLINED", reason: `the amount is above the provider's limit of ${rules.declineAboveMinor} minor units of ${charge.currency}` };
  }
  const number = subscriberNumber(charge.details);
  if (number !== undefined && rules.declinedNumbers.has(number)) {
    return { outcome: "DECLINED", reason: `the provider does not accept payments for ${number}` };
  }
  return { outcome: "APPROVED" };
}
