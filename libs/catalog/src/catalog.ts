import { ServiceKind } from "@payments/contracts/gen/payments/v1/catalog";

/** Amount limits of a service in one currency, in minor units, inclusive. */
export interface CatalogLimit {
  currency: string;
  minMinor: bigint;
  maxMinor: bigint;
}

/** A detail the client fills in; `name` is the proto field name. */
export interface CatalogField {
  name: string;
  description: string;
  required: boolean;
  example: string;
}

/** A service that can be paid for, and the provider account its payments are captured to. */
export interface CatalogService {
  id: string;
  displayName: string;
  kind: ServiceKind;
  fields: CatalogField[];
  limits: CatalogLimit[];
}

const limit = (currency: string, minMinor: number, maxMinor: number): CatalogLimit => ({
  currency,
  minMinor: BigInt(minMinor),
  maxMinor: BigInt(maxMinor),
});

/** The catalog. Ids are stable: clients and stored payments refer to them. */
export const catalog: readonly CatalogService[] = [
  {
    id: "mobile-top-up",
    displayName: "Mobile phone top-up",
    kind: ServiceKind.SERVICE_KIND_MOBILE_TOP_UP,
    fields: [
      { name: "phone_number", description: "Mobile number to top up, in international format", required: true, example: "+14155550123" },
    ],
    limits: [limit("USD", 100, 20_000), limit("EUR", 100, 20_000)],
  },
  {
    id: "home-internet",
    displayName: "Home internet",
    kind: ServiceKind.SERVICE_KIND_HOME_INTERNET,
    fields: [{ name: "contract_number", description: "Contract number, 6 to 12 digits", required: true, example: "40012345" }],
    limits: [limit("USD", 500, 50_000), limit("EUR", 500, 50_000)],
  },
  {
    id: "utility-bill",
    displayName: "Electricity and water bill",
    kind: ServiceKind.SERVICE_KIND_UTILITY_BILL,
    fields: [
      { name: "account_number", description: "Customer account number, 8 to 16 digits", required: true, example: "1002003004" },
      { name: "billing_period", description: "Billing period as YYYY-MM", required: true, example: "2026-10" },
    ],
    limits: [limit("USD", 100, 500_000)],
  },
];

export function findService(id: string): CatalogService | undefined {
  return catalog.find((service) => service.id === id);
}

/**
 * Owner id of the service provider's settlement account, which receives captured money.
 * The "provider:" prefix cannot collide with a user id: user ids never contain ":".
 */
export function providerAccountOwner(serviceId: string): string {
  return `provider:${serviceId}`;
}
