import { randomBytes } from "node:crypto";
import { MikroORM } from "@mikro-orm/postgresql";

/** The machine's shared PostgreSQL; each test run works in a database of its own there. */
export const TEST_PG_BASE_URL = process.env.TEST_PG_BASE_URL ?? "postgresql://postgres@127.0.0.1:5432";

/** A fresh, uniquely named database URL. Processing creates the database on first start. */
export function uniqueDatabaseUrl(prefix = "payments_test"): string {
  return `${TEST_PG_BASE_URL}/${prefix}_${randomBytes(5).toString("hex")}`;
}

/** Drops the database of `url`, closing connections left open by killed processes. */
export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`refusing to drop database "${name}"`);
  const orm = await MikroORM.init({
    clientUrl: `${TEST_PG_BASE_URL}/postgres`,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: true,
  });
  try {
    await orm.em.getConnection().execute(`drop database if exists ${name} with (force)`);
  } finally {
    await orm.close();
  }
}
