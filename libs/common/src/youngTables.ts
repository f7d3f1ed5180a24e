import http2 from "node:http2";
import { createRequire } from "node:module";
import { PerformanceObserver } from "node:perf_hooks";
import { types } from "node:util";
import type { Http2SubchannelConnector } from "@grpc/grpc-js/build/src/transport.js";

/**
 * Keeps the tables of the long-lived Maps and Sets that hold one entry per call in flight in
 * the young generation, by replacing each with a copy after every garbage collection.
 *
 * Why: deleting from a Map or Set only marks the entry; V8 clears deleted entries by rehashing
 * into a new table, allocated in the old table's generation, and the old table keeps its
 * entries for iterators that may still walk it. Once a long-lived Map's table has been
 * promoted, every rehash leaves a dead old table pointing at the entries it held, and a
 * young-generation collection (scavenge) counts every old-to-young pointer as live: those
 * entries, and all they reach, survive until the next full collection. The tables that churn
 * once per call hold the calls in flight (the HTTP/2 streams of each session, grpc-js's active
 * calls per connection, NATS's pending requests), so at the maximum most calls' objects were
 * promoted and full collections came every second or so. A copy made after each collection is
 * young and lives through at most one scavenge before the next copy, so no table is promoted.
 * A test checks that V8 still keeps such entries; when it stops, this module can go.
 *
 * The tables are private fields of Node's http2 sessions, grpc-js's transports and the NATS
 * client: an owner whose field is missing or not a Map or Set is left alone.
 */

interface TableOwner {
  owner: WeakRef<Record<string, unknown>>;
  fields: readonly string[];
}

const owners = new Set<TableOwner>();
let installed = false;

/**
 * Installs the hooks (Node's http2 sessions, grpc-js's transports) and the renewal after each
 * collection. Call it at the start of a process, before any connection; again is harmless.
 */
export function keepPerCallTablesYoung(): void {
  if (installed) return;
  installed = true;
  trackHttp2Sessions();
  trackGrpcTransports();
  new PerformanceObserver(() => renewTables()).observe({ entryTypes: ["gc"] });
}

/** Renews `owner`'s Map or Set `fields` after each collection, as long as `owner` lives. */
export function keepTablesYoung(owner: object, fields: readonly string[]): void {
  owners.add({ owner: new WeakRef(owner as Record<string, unknown>), fields });
}

/** The owners tracked now (for tests). */
export function trackedTableOwners(): object[] {
  return [...owners].flatMap(({ owner }): object[] => {
    const live = owner.deref();
    return live ? [live] : [];
  });
}

/** Replaces every tracked table with a copy of the same class; forgets owners that are gone. */
export function renewTables(): void {
  for (const entry of owners) {
    const owner = entry.owner.deref();
    if (!owner) {
      owners.delete(entry);
      continue;
    }
    for (const field of entry.fields) {
      const table = owner[field];
      // Not instanceof: Node's own SafeMap and SafeSet do not inherit from Map.prototype.
      if (types.isMap(table) || types.isSet(table)) {
        const Table = (table as object).constructor as new (entries: Iterable<unknown>) => object;
        owner[field] = new Table(table as Iterable<unknown>);
      }
    }
  }
}

/** Node keeps each session's streams in `session[kState].streams` and `.pendingStreams`. */
function trackHttp2Sessions(): void {
  const track = (session: http2.Http2Session) => {
    const state = stateOf(session);
    if (!state) return;
    const tracked = { owner: new WeakRef(state), fields: ["streams", "pendingStreams"] };
    owners.add(tracked);
    session.once("close", () => owners.delete(tracked));
  };
  const connect = http2.connect;
  http2.connect = function (this: unknown, ...args: Parameters<typeof http2.connect>) {
    const session = connect.apply(this, args);
    track(session);
    return session;
  } as typeof http2.connect;
  for (const create of ["createServer", "createSecureServer"] as const) {
    const original = http2[create] as (...args: unknown[]) => http2.Http2Server;
    (http2 as unknown as Record<string, unknown>)[create] = function (this: unknown, ...args: unknown[]) {
      const server = original.apply(this, args);
      server.on("session", track);
      return server;
    };
  }
}

function stateOf(session: http2.Http2Session): Record<string, unknown> | undefined {
  const kState = Object.getOwnPropertySymbols(session).find((symbol) => symbol.description === "state");
  const state = kState && (session as unknown as Record<symbol, unknown>)[kState];
  return typeof state === "object" && state !== null ? (state as Record<string, unknown>) : undefined;
}

/**
 * grpc-js keeps each connection's calls in flight in its transport's `activeCalls`. The
 * connector that makes transports is internal to grpc-js: if another version has moved it,
 * its connections are left alone rather than the process failing to start.
 */
function trackGrpcTransports(): void {
  type TransportModule = { Http2SubchannelConnector?: typeof Http2SubchannelConnector };
  let connector: typeof Http2SubchannelConnector | undefined;
  try {
    connector = (createRequire(import.meta.url)("@grpc/grpc-js/build/src/transport.js") as TransportModule).Http2SubchannelConnector;
  } catch {
    return;
  }
  if (typeof connector?.prototype.connect !== "function") return;
  const connect = connector.prototype.connect;
  connector.prototype.connect = async function (this: Http2SubchannelConnector, ...args) {
    const transport = await connect.apply(this, args);
    keepTablesYoung(transport, ["activeCalls"]);
    return transport;
  };
}
