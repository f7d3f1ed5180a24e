import { defineConfig } from "@mikro-orm/postgresql";
import { Migrator } from "@mikro-orm/migrations";
import { AccountSchema } from "./entities/account.entity.js";
import { LedgerEntrySchema } from "./entities/ledgerEntry.entity.js";
import { PaymentSchema } from "./entities/payment.entity.js";
import { SettlementSchema } from "./entities/settlement.entity.js";
import { Migration20261124000000_initial } from "./migrations/Migration20261124000000_initial.js";
import { Migration20261125000000_recovery } from "./migrations/Migration20261125000000_recovery.js";
import { Migration20261126000000_traceContext } from "./migrations/Migration20261126000000_traceContext.js";

/**
 * MikroORM configuration. Migrations are listed here rather than discovered from the
 * file system, so the same list runs from source (tsx) and from the compiled build.
 */
export function createOrmConfig(options: { databaseUrl: string; poolMax: number }) {
  return defineConfig({
    clientUrl: options.databaseUrl,
    entities: [AccountSchema, PaymentSchema, LedgerEntrySchema, SettlementSchema],
    extensions: [Migrator],
    migrations: {
      migrationsList: [
        { name: "Migration20261124000000_initial", class: Migration20261124000000_initial },
        { name: "Migration20261125000000_recovery", class: Migration20261125000000_recovery },
        { name: "Migration20261126000000_traceContext", class: Migration20261126000000_traceContext },
      ],
      transactional: true,
      silent: true,
      allOrNothing: true,
      disableForeignKeys: false,
    },
    pool: { min: 0, max: options.poolMax },
    // The schema is owned by migrations; never derive or sync it at run time.
    ensureDatabase: false,
    discovery: { warnWhenNoEntities: true },
    allowGlobalContext: false,
    debug: false,
  });
}
