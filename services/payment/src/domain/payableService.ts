import type { CatalogService } from "@payments/catalog/catalog";
import type { PayableService } from "@payments/contracts/gen/payments/v1/catalog";

/** The public view of a catalog entry. */
export function toPayableService(service: CatalogService): PayableService {
  return {
    id: service.id,
    displayName: service.displayName,
    kind: service.kind,
    detailFields: service.fields.map((f) => ({ name: f.name, description: f.description, required: f.required, example: f.example })),
    limits: service.limits.map((l) => ({ currencyCode: l.currency, minAmountMinor: l.minMinor, maxAmountMinor: l.maxMinor })),
  };
}
