import type { EntityManager } from "@mikro-orm/postgresql";
import { PaymentSchema, type Payment } from "../db/entities/payment.entity.js";

/** Runs one SQL statement inside the entity manager's current transaction and returns its rows. */
export function query<Row = Record<string, unknown>>(em: EntityManager, sql: string, params: unknown[] = []): Promise<Row[]> {
  return em.execute<Row[]>(sql, params as never[], "all");
}

/**
 * Like {@link query}, with named bindings (`:amount`), for statements that use a value
 * more than once. Casts must be written `cast(:x as uuid)`: `::` would read as a binding.
 */
export function namedQuery<Row = Record<string, unknown>>(em: EntityManager, sql: string, bindings: Record<string, unknown>): Promise<Row[]> {
  return em.execute<Row[]>(em.getKnex().raw(sql, bindings as Record<string, never>), [], "all");
}

/** Maps a raw `payments` row (as returned by `returning *`) to the entity. */
export function toPayment(em: EntityManager, row: Record<string, unknown>): Payment {
  return em.map(PaymentSchema, row);
}
