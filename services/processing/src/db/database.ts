import { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { createOrmConfig } from "./mikro-orm.config.js";

/** Arbitrary constant naming the advisory lock that serialises migrations across replicas. */
const MIGRATION_LOCK_ID = 7_201_126;

/**
 * Opens the database: creates it if it does not exist yet (development convenience),
 * then applies pending migrations. They run in one transaction holding an advisory lock,
 * so replicas starting together apply them exactly once.
 */
export async function openDatabase(options: { databaseUrl: string; poolMax: number; log: Logger }): Promise<MikroORM> {
  const orm = await MikroORM.init(createOrmConfig(options));
  await orm.schema.ensureDatabase();
  const connection = orm.em.getConnection();
  const applied = await connection.transactional(async (trx) => {
    await connection.execute("select pg_advisory_xact_lock(?)", [MIGRATION_LOCK_ID], "run", trx);
    return orm.getMigrator().up({ transaction: trx });
  });
  if (applied.length > 0) options.log.info({ migrations: applied.map((m) => m.name) }, "applied migrations");
  return orm;
}
