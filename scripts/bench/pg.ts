import { createRequire } from "node:module";

/** The part of a `pg` client the benchmark uses. */
export interface PgClient {
  connect(): Promise<void>;
  query<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
  end(): Promise<void>;
}

interface PgModule {
  Client: new (options: { connectionString: string; application_name?: string }) => PgClient;
}

/**
 * The `pg` driver that MikroORM's PostgreSQL driver installs, used directly: the ceiling
 * measurement must have nothing between it and the database. It ships no types, hence
 * the interface above.
 */
const pg = createRequire(import.meta.url)("pg") as PgModule;

/** Opens a plain connection to `databaseUrl`. */
export async function connectPg(databaseUrl: string, applicationName = "bench"): Promise<PgClient> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: applicationName });
  await client.connect();
  return client;
}
