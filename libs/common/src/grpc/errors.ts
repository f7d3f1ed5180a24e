import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import type { Logger } from "pino";

/**
 * The one error type handlers throw on purpose: it carries the gRPC status the caller
 * sees and a message safe to show them. Anything else becomes INTERNAL.
 */
export class RpcError extends Error {
  override name = "RpcError";
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A client's value for an error message: quoted, with control characters escaped and cut
 * to `max` characters, so a hostile 100 KB string never ends up in a status or a log line.
 */
export function quote(value: string, max = 40): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut);
}

export const invalidArgument = (field: string, problem: string) =>
  new RpcError(status.INVALID_ARGUMENT, `${field}: ${problem}`);
export const notFound = (message: string) => new RpcError(status.NOT_FOUND, message);
export const failedPrecondition = (message: string) => new RpcError(status.FAILED_PRECONDITION, message);
export const alreadyExists = (message: string) => new RpcError(status.ALREADY_EXISTS, message);
export const unauthenticated = (message: string) => new RpcError(status.UNAUTHENTICATED, message);
export const unavailable = (message: string) => new RpcError(status.UNAVAILABLE, message);
export const aborted = (message: string) => new RpcError(status.ABORTED, message);

/** A status received from another gRPC service (what grpc-js clients reject with). */
export interface RemoteStatusError extends Error {
  code: status;
  details: string;
  metadata?: Metadata;
}

export function isRemoteStatusError(err: unknown): err is RemoteStatusError {
  return err instanceof Error && typeof (err as Partial<RemoteStatusError>).code === "number" && "details" in err;
}

/** Statuses of a downstream call that mean "try again later", not "this request is wrong". */
// CANCELLED: a dependency that was force-stopped mid-call (a restart past its grace period).
const transientCodes = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.ABORTED, status.CANCELLED]);

export function isTransient(err: unknown): boolean {
  return isRemoteStatusError(err) && transientCodes.has(err.code);
}

/** Downstream statuses whose message was written for the end caller and may be passed through. */
const passThroughCodes = new Set([
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.FAILED_PRECONDITION,
  status.ALREADY_EXISTS,
  status.ABORTED,
  status.OUT_OF_RANGE,
]);

/**
 * Turns anything a handler threw into the status sent to the caller. Unexpected errors
 * are logged with their stack and reported as INTERNAL with a generic message.
 */
export function toStatus(err: unknown, log: Logger): Partial<StatusObject> & { code: status; details: string } {
  if (err instanceof RpcError) return { code: err.code, details: err.message };
  if (isRemoteStatusError(err)) {
    if (passThroughCodes.has(err.code)) return { code: err.code, details: err.details };
    if (transientCodes.has(err.code)) {
      log.warn({ code: err.code, details: err.details }, "dependency unavailable");
      return { code: status.UNAVAILABLE, details: "a dependency is unavailable, try again" };
    }
  }
  if (isDependencyDown(err)) {
    log.warn({ err }, "dependency unavailable");
    return { code: status.UNAVAILABLE, details: "a dependency is unavailable, try again" };
  }
  if (isConcurrencyConflict(err)) {
    log.warn({ err }, "lost to a concurrent change");
    return { code: status.ABORTED, details: "the request met a concurrent change, try again" };
  }
  log.error({ err }, "unexpected error");
  return { code: status.INTERNAL, details: "internal error" };
}

/** Socket errors of a dependency that is down or restarting. */
const connectionErrnos = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTCONN"]);
/** PostgreSQL: shutting down, crashed, starting up, too many connections, connection failures (class 08). */
const unavailableSqlStates = /^(57P0[1-3]|53300|08...)$/;
/** PostgreSQL: a serialization failure or a deadlock; the transaction was rolled back whole. */
const conflictSqlStates = new Set(["40001", "40P01"]);
/** node-postgres and knex say these without a code. */
const unavailableMessages =
  /Connection terminated|Connection ended unexpectedly|Timeout acquiring a connection|Client has encountered a connection error|Client was closed and is not queryable|not queryable|the database system is/i;

/**
 * The database (or another dependency reached through a driver) is down or restarting: the
 * caller may retry the same request later. Duck-typed so that this library needs no driver.
 */
export function isDependencyDown(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (connectionErrnos.has(code) || unavailableSqlStates.test(code))) return true;
    if (unavailableMessages.test(e.message)) return true;
    // A connect to several addresses fails with all their errors at once.
    if (e instanceof AggregateError && e.errors.some(isDependencyDown)) return true;
  }
  return false;
}

/** The database rolled the request back because of a concurrent one: the same request may simply be sent again. */
export function isConcurrencyConflict(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && conflictSqlStates.has(code)) return true;
  }
  return false;
}
